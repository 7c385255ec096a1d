# At "limit errors" the 421 must reach the client even when it has sent
# much more after the last bad command: smtpd closes its side and drains
# the rest, so no reset destroys the reply.
listener plain
limit errors 3
S: 220
C* 3 FOO\r\n
C* 2000 MORE INPUT THAT NOBODY WILL READ\r\n
S: 500 5.5.2
S: 500 5.5.2
S: 500 5.5.2
S: 421 4.7.0
CLOSED

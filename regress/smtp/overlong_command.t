# A command line over "limit line-length" is answered 500 5.5.2 and
# skipped to its end; the session goes on.
listener plain
S: 220
C: EHLO client.example
S: 250
C* 300 NOOP 
C: x
S: 500 5.5.2
C: NOOP
S: 250 2.0.0
C> MAIL FROM:<a@example.com> 
C* 1000 X
C> \r\nNOOP\r\n
S: 500 5.5.2
S: 250 2.0.0

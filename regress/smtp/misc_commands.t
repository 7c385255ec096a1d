# VRFY is refused politely, EXPN is not offered, HELP, NOOP and RSET
# answer, and MAIL needs a greeting first.
listener plain
S: 220
C: MAIL FROM:<a@example.com>
S: 503 5.5.1
C: VRFY postmaster
S: 252 2.5.2
C: EXPN staff
S: 502 5.5.1
C: HELP
S: 214 2.0.0
C: NOOP
S: 250 2.0.0
C: RSET
S: 250 2.0.0
C: HELO client.example
S: 250 mx.postern.test
C: MAIL FROM:<a@example.com>
S: 250 2.1.0
C: MAIL FROM:<a@example.com>
S: 503 5.5.1
C: RSET
S: 250 2.0.0
C: RCPT TO:<b@example.org>
S: 503 5.5.1
C: QUIT
S: 221 2.0.0
CLOSED

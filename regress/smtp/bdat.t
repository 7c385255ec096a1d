# CHUNKING (RFC 3030): chunks are counted octets, nothing in them is
# special; LAST ends the message; BDAT 0 LAST is allowed.
listener plain
S: 220
C: EHLO client.example
S: 250
C: MAIL FROM:<a@example.com>
S: 250
C: RCPT TO:<b@example.org>
S: 250
C> BDAT 20\r\nSubject: x\r\n\r\n.\r\nabc
S: 250 2.0.0 20 octets received
C> BDAT 3 LAST\r\nd\r\n
S: 250 2.0.0 Ok: queued
C: MAIL FROM:<a@example.com>
S: 250
C: RCPT TO:<b@example.org>
S: 250
C> BDAT 12\r\nSubject: y\r\n
S: 250 2.0.0 12 octets received
C: DATA
S: 503 5.5.1
C: BDAT 0 LAST
S: 250 2.0.0 Ok: queued
QUEUED 2

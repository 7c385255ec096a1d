# A BDAT chunk that cannot be taken is still read to its end (RFC 3030),
# so the next command is a command again.
listener plain
S: 220
C: EHLO client.example
S: 250
C> BDAT 10\r\nRSET\r\nQUIT
S: 503 5.5.1
C: MAIL FROM:<a@example.com>
S: 250
C> BDAT 6 LAST\r\nNOOP\r\n
S: 503 5.5.1 Need RCPT
C: NOOP
S: 250 2.0.0
QUEUED 0

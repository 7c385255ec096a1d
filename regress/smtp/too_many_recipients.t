# Past "limit recipients": 452 4.5.3, and the message goes to the ones
# accepted.
listener plain
limit recipients 3
S: 220
C: EHLO client.example
S: 250
C: MAIL FROM:<a@example.com>
S: 250
C: RCPT TO:<r1@example.org>
S: 250
C: RCPT TO:<r2@example.org>
S: 250
C: RCPT TO:<r3@example.org>
S: 250
C: RCPT TO:<r4@example.org>
S: 452 4.5.3
C> DATA\r\nSubject: x\r\n\r\ny\r\n.\r\n
S: 354
S: 250 2.0.0
QUEUED 1

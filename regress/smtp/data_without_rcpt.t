# DATA needs MAIL and at least one RCPT.
listener plain
S: 220
C: EHLO client.example
S: 250
C: DATA
S: 503 5.5.1 Need MAIL
C: MAIL FROM:<a@example.com>
S: 250
C: DATA
S: 503 5.5.1 Need RCPT
C: RCPT TO:<b@example.org>
S: 250
C: DATA
S: 354

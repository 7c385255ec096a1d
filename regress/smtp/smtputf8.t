# SMTPUTF8: a UTF-8 address needs the parameter on MAIL.
listener plain
S: 220
C: EHLO client.example
S: 250
C: MAIL FROM:<jörg@example.com>
S: 553 5.6.7
C: MAIL FROM:<jörg@example.com> SMTPUTF8
S: 250 2.1.0
C: RCPT TO:<müller@example.org>
S: 250 2.1.5
C> DATA\r\nSubject: Grüße\r\n\r\nÄ\r\n.\r\n
S: 354
S: 250 2.0.0
QUEUED 1

# With "bare-lf reject" a bare LF in the data refuses the message.
listener plain
config bare-lf reject
S: 220
C: EHLO client.example
S: 250
C> MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n
S: 250
S: 250
S: 354
C> Subject: x\r\n\r\nline one\nline two\r\n.\r\n
S: 550 5.6.0
QUEUED 0

# NUL is refused in commands (500 5.5.2) and in data (550 5.6.0).
listener plain
S: 220
C> NOOP\0\r\n
S: 500 5.5.2
C: EHLO client.example
S: 250
C> MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n
S: 250
S: 250
S: 354
C> Subject: nul\r\n\r\na\0b\r\n.\r\n
S: 550 5.6.0
QUEUED 0

# queued's refusal at commit reaches the client as a 4xx, and the
# session goes on.
listener plain
queued tempfail
S: 220
C: EHLO client.example
S: 250
C> MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n
S: 250
S: 250
S: 354
C> Subject: x\r\n\r\ny\r\n.\r\n
S: 451 4.3.0 disk full
C: NOOP
S: 250
QUEUED 0

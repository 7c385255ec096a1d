# SMTP smuggling: "\r.\r\n" holds a bare CR before the dot: refused (550
# 5.6.0) at the real end, and no second transaction happens.
listener plain
S: 220
C: EHLO client.example
S: 250
C> MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n
S: 250
S: 250
S: 354
C> Subject: x\r\n\r\nbody\r.\r\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nevil\r\n.\r\n
S: 550 5.6.0
QUEUED 0
C> MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n
S: 250 2.1.0
S: 250 2.1.5
S: 354
C> Subject: second\r\n\r\nok\r\n.\r\n
S: 250 2.0.0 Ok: queued
QUEUED 1

# Without SIZE= the limit holds while receiving: 552 5.3.4 at the end of
# data, nothing queued, the session goes on.
listener plain
limit message-size 1K
S: 220
C: EHLO client.example
S: 250
C> MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n
S: 250
S: 250
S: 354
C: Subject: big
C:
C* 40 0123456789012345678901234567890123456789\r\n
C: .
S: 552 5.3.4
QUEUED 0
ABORTED 1
C> MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nBDAT 2000 LAST\r\n
S: 250
S: 250
C* 50 01234567890123456789012345678901234567\r\n
S: 552 5.3.4
QUEUED 0
C: NOOP
S: 250

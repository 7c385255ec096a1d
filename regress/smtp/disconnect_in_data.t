# A client that goes away in the middle of DATA gets nothing queued: the
# message is aborted.
listener plain
S: 220
C: EHLO client.example
S: 250
C> MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n
S: 250
S: 250
S: 354
C: Subject: half
C:
C: half a message
CONNECT
ABORTED 1
QUEUED 0
S: 220

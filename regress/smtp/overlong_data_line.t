# A data line over 998 octets refuses the message (500 5.5.2) at the end
# of data; nothing is queued.
listener plain
S: 220
C: EHLO client.example
S: 250
C> MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n
S: 250
S: 250
S: 354
C: Subject: long
C:
C* 1000 y
C> \r\n.\r\n
S: 500 5.5.2
QUEUED 0
ABORTED 1
C: NOOP
S: 250

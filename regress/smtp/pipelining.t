# RFC 2920: two whole transactions in one write; the replies come in
# order.
listener plain
S: 220
C: EHLO client.example
S: 250
C> MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n
S: 250 2.1.0
S: 250 2.1.5
S: 250 2.1.5
S: 354
C> Subject: one\r\n\r\nfirst\r\n.\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<d@example.org>\r\nDATA\r\n
S: 250 2.0.0 Ok: queued
S: 250 2.1.0
S: 250 2.1.5
S: 354
C> Subject: two\r\n\r\nsecond\r\n.\r\nQUIT\r\n
S: 250 2.0.0 Ok: queued
S: 221
CLOSED
QUEUED 2

# The message must have exactly one From: with exactly one mailbox, the
# token's address, and the same for Sender: if present: 550 5.7.1 at the
# end of data otherwise, and nothing is queued.
listener tls
limit errors 50
token T alice@example.com
TLS
S: 220
C: EHLO client.example
S: 250
C: AUTH PLAIN {T:plain}
S: 235
# From: someone else
C> MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n
S: 250
S: 250
S: 354
C> From: Mallory <bob@example.com>\r\n\r\nx\r\n.\r\n
S: 550 5.7.1
# no From: at all
C> MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n
S: 250
S: 250
S: 354
C> Subject: no from\r\n\r\nx\r\n.\r\n
S: 550 5.7.1
# two From: fields
C> MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n
S: 250
S: 250
S: 354
C> From: alice@example.com\r\nFrom: alice@example.com\r\n\r\nx\r\n.\r\n
S: 550 5.7.1
# two mailboxes in one From:
C> MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n
S: 250
S: 250
S: 354
C> From: alice@example.com, bob@example.com\r\n\r\nx\r\n.\r\n
S: 550 5.7.1
# Sender: someone else
C> MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n
S: 250
S: 250
S: 354
C> From: alice@example.com\r\nSender: bob@example.com\r\n\r\nx\r\n.\r\n
S: 550 5.7.1
QUEUED 0
ABORTED 5
# and the right one, display name free, folded
C> MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n
S: 250
S: 250
S: 354
C> From: "Office Printer"\r\n <Alice@EXAMPLE.com>\r\nSender: alice@example.com\r\n\r\nx\r\n.\r\n
S: 250 2.0.0
QUEUED 1

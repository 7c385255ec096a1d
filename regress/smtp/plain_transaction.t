# A whole transaction on a no-auth loopback listener (tests only): any
# sender, no AUTH, and the reply to the end of data names the queue id.
listener plain
S: 220 mx.postern.test ESMTP
C: EHLO client.example
S: 250 HELP
C: MAIL FROM:<anyone@elsewhere.example>
S: 250 2.1.0
C: RCPT TO:<bob@example.org>
S: 250 2.1.5
C: DATA
S: 354
C: From: anyone@elsewhere.example
C: Subject: hello
C:
C: Hello Bob.
C: .
S: 250 2.0.0 Ok: queued as
C: QUIT
S: 221 2.0.0
CLOSED
QUEUED 1

# AUTH PLAIN with an initial response (swaks, msmtp, smtplib, mutt), then
# a message from the token's address.
listener starttls
token T alice@example.com
S: 220
C: EHLO client.example
S: 250
C: STARTTLS
S: 220
TLS
C: EHLO client.example
S: 250
C: AUTH PLAIN {T:plain}
S: 235 2.7.0
C: AUTH PLAIN {T:plain}
S: 503 5.5.1
C: MAIL FROM:<alice@example.com> SIZE=100
S: 250 2.1.0
C: RCPT TO:<bob@example.org>
S: 250 2.1.5
C: DATA
S: 354
C: From: Alice <alice@example.com>
C: To: bob@example.org
C: Subject: scan
C:
C: A scanned page.
C: .
S: 250 2.0.0 Ok: queued as
QUEUED 1

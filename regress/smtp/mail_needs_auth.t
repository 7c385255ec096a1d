# On an AUTH listener there is no mail without a login.
listener tls
TLS
S: 220
C: EHLO client.example
S: 250
C: MAIL FROM:<alice@example.com>
S: 530 5.7.0
C: RCPT TO:<bob@example.org>
S: 503 5.5.1
C: DATA
S: 503 5.5.1

# AUTH LOGIN, which many printers speak alone: "Username:" then
# "Password:", both base64.
listener tls
token T alice@example.com
TLS
S: 220
C: EHLO client.example
S: 250
C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: {T:user}
S: 334 UGFzc3dvcmQ6
C: {T:pass}
S: 235 2.7.0
C: MAIL FROM:<alice@example.com>
S: 250 2.1.0

# AUTH LOGIN with the user name as an initial response.
listener tls
token T alice@example.com
TLS
S: 220
C: EHLO client.example
S: 250
C: AUTH LOGIN {T:user}
S: 334 UGFzc3dvcmQ6
C: {T:pass}
S: 235 2.7.0

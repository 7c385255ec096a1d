# MAIL ... SIZE= over "limit message-size" is refused at once.
listener plain
limit message-size 1K
S: 220
C: EHLO client.example
S: 250 HELP
S? SIZE 1024
C: MAIL FROM:<a@example.com> SIZE=1025
S: 552 5.3.4
C: MAIL FROM:<a@example.com> SIZE=1024
S: 250 2.1.0

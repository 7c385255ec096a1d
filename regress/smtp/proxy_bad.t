# A listed balancer must send a PROXY header; anything else ends the
# connection without a word.
listener plain
proxy-from 127.0.0.1
C: EHLO client.example
CLOSED

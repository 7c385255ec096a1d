# "timeout session" bounds the whole session, however busy the client
# keeps it.
listener plain
timeout session 3s
S: 220
C: EHLO client.example
S: 250
SLEEP 1
C: NOOP
S: 250
SLEEP 1
C: NOOP
S: 250
S: 421 4.4.2
CLOSED

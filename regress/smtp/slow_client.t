# A client that sends one octet a second never completes a command within
# "timeout command": 421 4.4.2 and the connection is closed.
listener plain
timeout command 2s
S: 220
SLOW 1 EHLO slowly.example\r\n
S: 421 4.4.2
CLOSED

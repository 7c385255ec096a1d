# In DATA the client must keep sending: "timeout data-block" after the
# last piece ends the session (421 4.4.2), and nothing is queued.
listener plain
timeout data-init 5s
timeout data-block 2s
S: 220
C: EHLO client.example
S: 250
C> MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n
S: 250
S: 250
S: 354
C: Subject: stalled
SLEEP 1
C: first line
SILENT 1
S: 421 4.4.2
CLOSED
QUEUED 0

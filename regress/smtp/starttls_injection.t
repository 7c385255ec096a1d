# CVE-2011-0411: commands pipelined after STARTTLS in the same packet are
# discarded, never executed inside TLS.  Had the RSET run, its "250 2.0.0"
# would come before the EHLO reply.
listener starttls
S: 220
C: EHLO client.example
S: 250
C> STARTTLS\r\nRSET\r\nMAIL FROM:<evil@example.net>\r\n
S: 220 2.0.0
TLS
C: EHLO client.example
S: 250 HELP
C: NOOP
S: 250 2.0.0

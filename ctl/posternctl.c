/*
 * posternctl: the operator's command-line tool.
 *
 * Talks only to the master's control socket (root or members of the
 * control group); holds nothing.  Each command becomes one MSG_CTL_REQ;
 * the answer is zero or more rows and a final status, printed as an
 * aligned table or key: value lines, or with --json as one JSON object:
 *	{"status": "ok"|"error", "message": "...", "items": [{...}, ...]}
 * which is stable for scripts (keys are only ever added).
 *
 * `dkim keygen' is the one command that works locally: it needs root,
 * writes the key into signd's directory and then asks the master to have
 * signd reload.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "ipc.h"
#include "log.h"
#include "proto.h"
#include "utf8.h"

static int	 json;
static int	 quiet;	/* print nothing of the answer */
static const char *sockpath = DEF_CONTROL_SOCKET;
static const char *conffile = "/etc/postern/postern.conf";

static void
usage(void)
{
	fprintf(stderr,
"usage: posternctl [-f config] [-s socket] [--json] command [args]\n"
"commands:\n"
"  token add --name NAME --address ADDR [--account ID]\n"
"  token list [--address ADDR] [--account ID]\n"
"  token delete ID | token delete --address ADDR --name NAME\n"
"  dkim keygen DOMAIN [--selector S] [--algorithm ed25519|rsa] [--bits N]\n"
"  dkim dns DOMAIN\n"
"  dkim reload\n"
"  queue list [--token ID]\n"
"  queue show ID\n"
"  queue flush [ID]\n"
"  queue delete ID | queue delete --token ID\n"
"  queue hold ID | queue hold --token ID\n"
"  queue release ID | queue release --token ID\n"
"  show stats\n"
"  log verbose | log brief\n"
"  reload\n"
"  ping\n"
"  clock advance SECONDS   (test-clock yes only)\n");
	exit(2);
}

static int
ctl_connect(void)
{
	struct sockaddr_un sun;
	int s;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, sockpath, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		fprintf(stderr, "posternctl: socket path too long\n");
		exit(1);
	}
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		perror("posternctl: socket");
		exit(1);
	}
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "posternctl: %s: %s\n", sockpath,
		    strerror(errno));
		exit(1);
	}
	return s;
}

/* Read (or, with wr, write) exactly n bytes: 0, or -1 (error, EOF). */
static int
io_full(int s, void *buf, size_t n, int wr)
{
	unsigned char *p = buf;
	ssize_t r;

	while (n > 0) {
		r = wr ? write(s, p, n) : read(s, p, n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= r;
	}
	return 0;
}

/*
 * Answers carry text that came from outside: the header lines of a
 * queued message (queue show), addresses, the replies of remote servers.
 * A terminal obeys the escape sequences such text may hold (set the
 * title, move the cursor, rewrite what the operator sees), so what is
 * printed for a person keeps printable ASCII and well-formed UTF-8 only:
 * control characters, C1 controls and malformed bytes become '?'.
 * --json output escapes them instead (ctl_json_str).
 */
static void
tty_safe(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t len = strlen(s), i, n;

	for (i = 0; i < len; i += n) {
		n = 1;
		if (p[i] < 0x20 || p[i] == 0x7f)
			p[i] = '?';
		else if (p[i] >= 0x80 && (n = utf8_seqlen(p + i, len - i)) == 0) {
			p[i] = '?';
			n = 1;
		}
	}
}

static void
tty_safe_rows(struct ctl_rows *rows, char *message)
{
	char *key[MAX_CTL_ARGS], *val[MAX_CTL_ARGS];
	size_t i;
	uint32_t k, n;

	for (i = 0; i < rows->n; i++) {
		n = ctl_rows_get(rows, i, key, val);
		for (k = 0; k < n; k++) {
			tty_safe(key[k]);
			tty_safe(val[k]);
		}
	}
	tty_safe(message);
}

static void
print_json(int status, const char *message, struct ctl_rows *rows)
{
	char *key[MAX_CTL_ARGS], *val[MAX_CTL_ARGS];
	size_t i;
	uint32_t k, n;

	printf("{\"status\": \"%s\", \"message\": ", status ? "error" : "ok");
	ctl_json_str(stdout, message);
	printf(", \"items\": [");
	for (i = 0; i < rows->n; i++) {
		printf("%s{", i ? ", " : "");
		n = ctl_rows_get(rows, i, key, val);
		for (k = 0; k < n; k++) {
			printf("%s", k ? ", " : "");
			ctl_json_str(stdout, key[k]);
			printf(": ");
			ctl_json_str(stdout, val[k]);
		}
		printf("}");
	}
	printf("]}\n");
}

static void
print_table(struct ctl_rows *rows)
{
	char cols[MAX_CTL_ARGS * 2][MAX_CTL_KEY];
	char *key[MAX_CTL_ARGS], *val[MAX_CTL_ARGS];
	size_t width[MAX_CTL_ARGS * 2];
	size_t ncol = 0, i, c, w;
	uint32_t k, n;
	const char *v;

	for (i = 0; i < rows->n; i++) {
		n = ctl_rows_get(rows, i, key, val);
		for (k = 0; k < n; k++) {
			for (c = 0; c < ncol; c++)
				if (strcmp(cols[c], key[k]) == 0)
					break;
			if (c == ncol && ncol < MAX_CTL_ARGS * 2) {
				strlcpy(cols[ncol], key[k], sizeof(cols[ncol]));
				width[ncol] = strlen(cols[ncol]);
				ncol++;
			}
			if (c < ncol) {
				w = strlen(val[k]);
				if (w > width[c])
					width[c] = w;
			}
		}
	}
	for (c = 0; c < ncol; c++) {
		char up[MAX_CTL_KEY];
		size_t j;

		for (j = 0; cols[c][j] && j < sizeof(up) - 1; j++)
			up[j] = (cols[c][j] >= 'a' && cols[c][j] <= 'z') ?
			    cols[c][j] - 32 : cols[c][j];
		up[j] = '\0';
		printf("%-*s%s", c + 1 < ncol ? (int)width[c] : 0, up,
		    c + 1 < ncol ? "  " : "\n");
	}
	for (i = 0; i < rows->n; i++) {
		n = ctl_rows_get(rows, i, key, val);
		for (c = 0; c < ncol; c++) {
			v = "-";
			for (k = 0; k < n; k++)
				if (strcmp(key[k], cols[c]) == 0)
					v = val[k];
			printf("%-*s%s", c + 1 < ncol ? (int)width[c] : 0, v,
			    c + 1 < ncol ? "  " : "\n");
		}
	}
}

static void
print_pairs(struct ctl_rows *rows)
{
	char *key[MAX_CTL_ARGS], *val[MAX_CTL_ARGS];
	size_t i, w = 0;
	uint32_t k, n;

	for (i = 0; i < rows->n; i++) {
		n = ctl_rows_get(rows, i, key, val);
		for (k = 0; k < n; k++)
			if (strlen(key[k]) > w)
				w = strlen(key[k]);
	}
	for (i = 0; i < rows->n; i++) {
		if (i > 0)
			printf("\n");
		n = ctl_rows_get(rows, i, key, val);
		for (k = 0; k < n; k++)
			printf("%-*s  %s\n", (int)w + 1, key[k], val[k]);
	}
}

/* Send one request and print its answer; returns the exit status. */
static int
ctl_request(const struct ctl_req *req, int table)
{
	static struct mw mw;
	struct {
		uint32_t type, len, peerid, flags;
	} hdr;
	static unsigned char buf[IPC_MAX_PAYLOAD];
	static struct ctl_row row;	/* one at a time, kept compact */
	struct ctl_rows rows;
	struct mr mr;
	char message[MAX_CTL_VAL];
	uint32_t status;
	int s;

	ctl_rows_init(&rows);
	s = ctl_connect();
	mw_init(&mw);
	ctl_req_write(&mw, req);
	if (mw.err) {
		fprintf(stderr, "posternctl: request too large\n");
		return 1;
	}
	hdr.type = MSG_CTL_REQ;
	hdr.len = mw.len;
	hdr.peerid = 1;
	hdr.flags = 0;
	if (io_full(s, &hdr, sizeof(hdr), 1) == -1 ||
	    io_full(s, mw.buf, mw.len, 1) == -1) {
		fprintf(stderr, "posternctl: write: %s\n", strerror(errno));
		return 1;
	}
	for (;;) {
		if (io_full(s, &hdr, sizeof(hdr), 0) == -1 ||
		    hdr.len > IPC_MAX_PAYLOAD || hdr.flags != 0 ||
		    io_full(s, buf, hdr.len, 0) == -1) {
			fprintf(stderr, "posternctl: the daemon closed the "
			    "connection\n");
			return 1;
		}
		mr_init_buf(&mr, buf, hdr.len);
		if (hdr.type == MSG_CTL_ROW) {
			if (ctl_row_read(&mr, &row) == -1) {
				fprintf(stderr, "posternctl: bad answer\n");
				return 1;
			}
			if (!quiet && ctl_rows_add(&rows, &row) == -1) {
				fprintf(stderr, "posternctl: out of memory\n");
				return 1;
			}
		} else if (hdr.type == MSG_CTL_DONE) {
			if (ctl_done_read(&mr, &status, message,
			    sizeof(message)) == -1) {
				fprintf(stderr, "posternctl: bad answer\n");
				return 1;
			}
			break;
		} else {
			fprintf(stderr, "posternctl: unexpected answer\n");
			return 1;
		}
	}
	close(s);
	if (quiet)
		;
	else if (json)
		print_json(status, message, &rows);
	else {
		tty_safe_rows(&rows, message);
		if (table && rows.n > 0)
			print_table(&rows);
		else
			print_pairs(&rows);
		if (status)
			fprintf(stderr, "posternctl: %s\n", message);
		else if (message[0] != '\0' && !table)
			printf("%s\n", message);
	}
	ctl_rows_free(&rows);
	return status ? 1 : 0;
}

/*
 * Options of the form --key VALUE become request arguments; a bare word
 * goes to `positional' (an id, a domain) when the command takes one.
 */
static void
parse_args(int argc, char **argv, struct ctl_req *req, const char *positional,
    const char *const allowed[])
{
	int i, k, ok;

	for (i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0) {
			ok = 0;
			for (k = 0; allowed[k] != NULL; k++)
				if (strcmp(argv[i] + 2, allowed[k]) == 0)
					ok = 1;
			if (!ok || i + 1 >= argc) {
				fprintf(stderr, "posternctl: unknown or "
				    "incomplete option %s\n", argv[i]);
				exit(2);
			}
			if (ctl_req_add(req, argv[i] + 2, argv[i + 1]) == -1) {
				fprintf(stderr, "posternctl: argument too "
				    "long\n");
				exit(2);
			}
			i++;
		} else if (positional != NULL &&
		    ctl_req_get(req, positional) == NULL) {
			if (ctl_req_add(req, positional, argv[i]) == -1) {
				fprintf(stderr, "posternctl: argument too "
				    "long\n");
				exit(2);
			}
		} else {
			fprintf(stderr, "posternctl: unexpected argument "
			    "%s\n", argv[i]);
			exit(2);
		}
	}
}

static int
dkim_keygen(int argc, char **argv)
{
	const char *domain = NULL, *selector = NULL, *alg = "ed25519";
	int bits = 2048, i;
	struct config *conf;
	struct ctl_req req;
	int rc;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--selector") == 0 && i + 1 < argc)
			selector = argv[++i];
		else if (strcmp(argv[i], "--algorithm") == 0 && i + 1 < argc)
			alg = argv[++i];
		else if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc)
			bits = atoi(argv[++i]);
		else if (argv[i][0] != '-' && domain == NULL)
			domain = argv[i];
		else
			usage();
	}
	if (domain == NULL)
		usage();
	if ((conf = config_parse_file(conffile, stderr)) == NULL)
		return 1;
	rc = ctl_dkim_keygen(conf, domain, selector, alg, bits, json);
	config_free(conf);
	if (rc != 0)
		return rc;
	/*
	 * Have signd load it.  A daemon that is not running is no error:
	 * it reads the key when it starts.
	 */
	if (access(sockpath, F_OK) == 0) {
		memset(&req, 0, sizeof(req));
		req.cmd = CTL_DKIM_RELOAD;
		quiet = 1;
		if (ctl_request(&req, 0) != 0)
			fprintf(stderr, "posternctl: the key was written, but "
			    "signd did not reload; run posternctl dkim "
			    "reload\n");
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct ctl_req req;
	const char *cmd, *sub;
	int i;
	static const char *const none[] = { NULL };
	static const char *const tok_add[] = { "name", "address", "account",
	    NULL };
	static const char *const tok_list[] = { "address", "account", NULL };
	static const char *const tok_del[] = { "address", "name", NULL };
	static const char *const q_tok[] = { "token", NULL };
	static const char *const secs[] = { NULL };

	log_init("posternctl", LOG_TO_STDERR, 0);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			sockpath = argv[++i];
		else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc)
			conffile = argv[++i];
		else
			break;
	}
	/* --json may also come after the command. */
	{
		int j, k = i;

		for (j = i; j < argc; j++)
			if (strcmp(argv[j], "--json") == 0)
				json = 1;
			else
				argv[k++] = argv[j];
		argc = k;
	}
	if (i >= argc)
		usage();
	cmd = argv[i++];
	sub = i < argc ? argv[i] : "";
	memset(&req, 0, sizeof(req));

#define IS(a, b) (strcmp(cmd, a) == 0 && strcmp(sub, b) == 0)
	if (IS("token", "add")) {
		req.cmd = CTL_TOKEN_ADD;
		parse_args(argc - i - 1, argv + i + 1, &req, NULL, tok_add);
		return ctl_request(&req, 0);
	} else if (IS("token", "list")) {
		req.cmd = CTL_TOKEN_LIST;
		parse_args(argc - i - 1, argv + i + 1, &req, NULL, tok_list);
		return ctl_request(&req, 1);
	} else if (IS("token", "delete")) {
		req.cmd = CTL_TOKEN_DELETE;
		parse_args(argc - i - 1, argv + i + 1, &req, "id", tok_del);
		return ctl_request(&req, 0);
	} else if (IS("dkim", "keygen")) {
		return dkim_keygen(argc - i - 1, argv + i + 1);
	} else if (IS("dkim", "dns")) {
		req.cmd = CTL_DKIM_DNS;
		parse_args(argc - i - 1, argv + i + 1, &req, "domain", none);
		return ctl_request(&req, 1);
	} else if (IS("dkim", "reload")) {
		req.cmd = CTL_DKIM_RELOAD;
		parse_args(argc - i - 1, argv + i + 1, &req, NULL, none);
		return ctl_request(&req, 0);
	} else if (IS("queue", "list")) {
		req.cmd = CTL_QUEUE_LIST;
		parse_args(argc - i - 1, argv + i + 1, &req, NULL, q_tok);
		return ctl_request(&req, 1);
	} else if (IS("queue", "show")) {
		req.cmd = CTL_QUEUE_SHOW;
		parse_args(argc - i - 1, argv + i + 1, &req, "id", none);
		return ctl_request(&req, 0);
	} else if (IS("queue", "flush")) {
		req.cmd = CTL_QUEUE_FLUSH;
		parse_args(argc - i - 1, argv + i + 1, &req, "id", none);
		return ctl_request(&req, 0);
	} else if (IS("queue", "delete") || IS("queue", "hold") ||
	    IS("queue", "release")) {
		req.cmd = strcmp(sub, "delete") == 0 ? CTL_QUEUE_DELETE :
		    strcmp(sub, "hold") == 0 ? CTL_QUEUE_HOLD :
		    CTL_QUEUE_RELEASE;
		parse_args(argc - i - 1, argv + i + 1, &req, "id", q_tok);
		return ctl_request(&req, 0);
	} else if (IS("show", "stats")) {
		req.cmd = CTL_SHOW_STATS;
		parse_args(argc - i - 1, argv + i + 1, &req, NULL, none);
		return ctl_request(&req, 0);
	} else if (IS("log", "verbose") || IS("log", "brief")) {
		req.cmd = strcmp(sub, "verbose") == 0 ? CTL_LOG_VERBOSE :
		    CTL_LOG_BRIEF;
		parse_args(argc - i - 1, argv + i + 1, &req, NULL, none);
		return ctl_request(&req, 0);
	} else if (IS("clock", "advance")) {
		req.cmd = CTL_CLOCK_ADVANCE;
		parse_args(argc - i - 1, argv + i + 1, &req, "seconds", secs);
		return ctl_request(&req, 0);
	} else if (strcmp(cmd, "reload") == 0) {
		req.cmd = CTL_RELOAD;
		parse_args(argc - i, argv + i, &req, NULL, none);
		return ctl_request(&req, 0);
	} else if (strcmp(cmd, "ping") == 0) {
		req.cmd = CTL_PING;
		parse_args(argc - i, argv + i, &req, NULL, none);
		return ctl_request(&req, 0);
	}
#undef IS
	usage();
}

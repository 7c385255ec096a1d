/*
 * master.h: state shared by the files of posternd (the parent process).
 */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H

#include <sys/types.h>

#include <event2/event.h>

#include "config.h"
#include "ipc.h"
#include "proto.h"

struct child {
	int		 proc;		/* PROC_* */
	pid_t		 pid;		/* 0 once reaped */
	struct ipc	*ipc;		/* master <-> child */
	int		 logfd;		/* read end of its stderr pipe */
	struct event	*ev_log;
	char		 logbuf[2048];
	size_t		 loglen;
	int		 ready;
	int		 missed_pongs;
	char		 root[PATH_MAX];
};

extern struct event_base *master_base;
extern struct config	*master_conf;
extern struct child	 master_children[PROC_COUNT];
extern int		 master_verbose;
extern int		 master_debug;

/* master_setup.c */
void	master_prepare_dirs(struct config *);
void	master_open_listeners(struct config *);
void	master_load_secrets(struct config *, unsigned char *tokenkey,
	    size_t *tokenkeylen);
const char *master_child_root(struct config *, int proc);

/* master_proc.c */
void	master_start_children(struct config *);
void	master_send_config(struct child *, struct config *);
void	master_send_files(struct child *, struct config *);
void	master_shutdown(int status) __attribute__((noreturn));
void	master_reaped(pid_t, int status);
void	master_broadcast(uint32_t type, const void *, size_t);
int	master_all_ready(void);

/* master_control.c */
void	master_control_open(struct config *);
void	master_control_close(void);
void	master_control_answer(int proc, struct ipc_msg *);

#endif

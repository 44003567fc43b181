/*
 * agent_impl.h - what the agent's files share (agent.c: the commands that
 * change things; status.c: the read-only ones and the --json failure
 * form). Not for main.c, which uses agent.h.
 */
#ifndef PAWL_AGENT_IMPL_H
#define PAWL_AGENT_IMPL_H

#include "config.h"
#include "pawl/install.h"

/* STATE_DIR/NAME into buf (an array, sized 4200 by every caller). */
#define STATE_PATH(buf, a_c, name) snprintf((buf), sizeof(buf), "%s/" name, (a_c)->state_dir)

/* The agent's failure form on stdout (--json): exactly one object. */
void agent_json_failure(const char *step, int code, const char *msg, const char *hint, int ex);

/* The install options of a configuration (the folder backend). */
void agent_install_opts(const agent_config *c, pawl_install_opts *io);

#endif

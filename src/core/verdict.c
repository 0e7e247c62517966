/*
 * verdict - one record per verdict, taken by every output
 *
 * See verdict.h.  The column table is generated from VERDICT_COLUMNS, so
 * the record, the table and the sinks that walk it cannot disagree.
 */
#include <stddef.h>
#include <string.h>

#include "util.h"
#include "address.h"
#include "config.h"
#include "directory.h"
#include "policy.h"
#include "milter_text.h"
#include "verdict.h"

const struct verdict_column verdict_columns[VERDICT_NCOLUMNS] = {
#define VERDICT_ENTRY_(member, column, key, kind) \
	{#column, #key, VERDICT_KIND_##kind, \
	 offsetof(struct verdict_record, member)},
	VERDICT_COLUMNS(VERDICT_ENTRY_)
#undef VERDICT_ENTRY_
};


/* verdict_record_outcome - the decision's columns from the verdict */
void
verdict_record_outcome(struct verdict_record *rec)
{
	const struct rg_verdict *v = rec->verdict;

	rec->rule = rg_rule_name(v->rule);
	rec->action = rg_action_name(v->action);
	rec->code = v->code;
	rec->ecode = v->ecode;
	rec->text = v->text;
}

/* text_or_null - NULL for an empty string: the column is unset */
static const char *
text_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? s : NULL;
}

/* verdict_record_build - every column of one verdict */
void
verdict_record_build(struct verdict_record *rec, const struct rg_verdict *v,
		     const struct rg_session *s,
		     const struct verdict_front *front, char *trace_buf,
		     size_t trace_size)
{
	static const struct verdict_front none;
	int rcpt = v->stage == RG_STAGE_RCPT;

	if (front == NULL)
		front = &none;
	rec->verdict = v;
	rec->time_ms = front->time_ms > 0 ? front->time_ms : rg_wall_ms();
	rec->session_id = front->session_id;
	rec->queue_id = text_or_null(front->queue_id);
	rec->mta = front->mta;
	rec->client_addr = front->client_addr;
	rec->client_name = s != NULL ? s->client_name : NULL;
	rec->helo = s != NULL ? s->helo : NULL;
	rec->auth_user = s != NULL ? s->auth_user : NULL;
	rec->stage = rg_stage_name(v->stage);
	rec->sender = front->sender;
	rec->rcpt = rcpt ? (front->rcpt != NULL ? front->rcpt : "") : NULL;
	rec->rcpt_normalized = rcpt ? v->normalized : NULL;
	verdict_record_outcome(rec);
	rec->directory_result = v->dir_consulted ? dir_result_name(v->dir_result)
		: NULL;
	rec->trace = mt_join_trace(&v->addr, trace_buf, trace_size);
	rec->client_trust = rg_trust_name(v->trust);
	rec->sender_class = rg_sender_class_name(v->sender_class);
}

/* verdict_column_text - a TEXT column's value; NULL for the others */
const char *
verdict_column_text(const struct verdict_record *rec,
		    const struct verdict_column *col)
{
	if (col->kind != VERDICT_KIND_TEXT && col->kind != VERDICT_KIND_PROSE)
		return NULL;
	return *(const char *const *) (const void *)
		((const char *) rec + col->offset);
}

/* verdict_column_int - an INT or TIME column's value; 0 for TEXT */
int64_t
verdict_column_int(const struct verdict_record *rec,
		   const struct verdict_column *col)
{
	const char *p = (const char *) rec + col->offset;

	if (col->kind == VERDICT_KIND_TIME)
		return *(const int64_t *) (const void *) p;
	if (col->kind == VERDICT_KIND_INT)
		return *(const int *) (const void *) p;
	return 0;
}

/* verdict_column_set_text - store a TEXT or PROSE column */
void
verdict_column_set_text(struct verdict_record *rec,
			const struct verdict_column *col, const char *text)
{
	if (col->kind == VERDICT_KIND_TEXT || col->kind == VERDICT_KIND_PROSE)
		*(const char **) (void *) ((char *) rec + col->offset) = text;
}

/* verdict_column_set_int - store an INT or TIME column */
void
verdict_column_set_int(struct verdict_record *rec,
		       const struct verdict_column *col, int64_t n)
{
	char *p = (char *) rec + col->offset;

	if (col->kind == VERDICT_KIND_TIME)
		*(int64_t *) (void *) p = n;
	else if (col->kind == VERDICT_KIND_INT)
		*(int *) (void *) p = (int) n;
}

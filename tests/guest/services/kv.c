// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kv: a line protocol on TCP port 6379 over the disk store (kvstore.c). Lines end in LF
 * (a CR before it is dropped); the command word is case-insensitive:
 *   SET <key> <value>   -> OK | ERR full | ERR bad key | ERR value too long | ERR disk
 *   GET <key>           -> VALUE <value> | NONE
 *   DEL <key>           -> OK | NONE | ERR disk
 *   COUNT               -> COUNT <n>
 *   PING                -> PONG
 *   QUIT                -> BYE, then the guest closes the connection
 *   anything else       -> ERR unknown command (ERR usage: ... for a malformed SET)
 * The value is the rest of the line after the single space following the key (it may
 * contain spaces, or be empty). A SET or DEL is on the disk, flushed, before its answer
 * is queued. A line longer than KV_LINE_MAX gets "ERR line too long" and the connection
 * is closed.
 */
#include "lib/format.h"
#include "lib/string.h"
#include "net/tcp.h"
#include "services/kvstore.h"
#include "services/service.h"

#define KV_PORT 6379
#define KV_LINE_MAX 512
#define KV_REPLY_MAX (KV_VALUE_MAX + 16)
#define KV_LINES_PER_POLL 32 /* each SET waits for the disk: keep the poll loop going */

static uint8_t line[KV_LINE_MAX + 1];
static uint8_t reply[KV_REPLY_MAX];

static bool word_is(const uint8_t* w, size_t n, const char* cmd) {
  if (strlen(cmd) != n) {
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    uint8_t c = w[i];
    if (c >= 'a' && c <= 'z') {
      c = (uint8_t)(c - 'a' + 'A');
    }
    if (c != (uint8_t)cmd[i]) {
      return false;
    }
  }
  return true;
}

static size_t text(const char* s) {
  size_t n = strlen(s);
  memcpy(reply, s, n);
  return n;
}

static size_t result_text(enum kv_result r) {
  switch (r) {
    case KV_OK:
      return text("OK\n");
    case KV_NOT_FOUND:
      return text("NONE\n");
    case KV_FULL:
      return text("ERR full\n");
    case KV_DISK:
      return text("ERR disk\n");
    case KV_BAD_KEY:
      return text("ERR bad key\n");
    default:
      return text("ERR value too long\n");
  }
}

/* Executes one line (without its LF); returns the reply length; *quit for QUIT. */
static size_t execute(const uint8_t* l, size_t n, bool* quit) {
  if (n && l[n - 1] == '\r') {
    n--;
  }
  size_t w = 0;
  while (w < n && l[w] != ' ') {
    w++;
  }
  const uint8_t* key = l + w + 1;
  size_t klen = 0;
  if (w < n) {
    while (w + 1 + klen < n && key[klen] != ' ') {
      klen++;
    }
  }
  bool has_rest = w + 1 + klen < n; /* a space after the key */
  const uint8_t* val = key + klen + 1;
  size_t vlen = has_rest ? n - (w + 1 + klen + 1) : 0;
  if (word_is(l, w, "SET")) {
    if (!klen || !has_rest) {
      return text("ERR usage: SET key value\n");
    }
    return result_text(kvstore_set(key, klen, val, vlen));
  }
  bool one_key = klen && !has_rest;
  if (word_is(l, w, "GET") && one_key) {
    size_t len;
    const uint8_t* v = kvstore_get(key, klen, &len);
    if (!v) {
      return text("NONE\n");
    }
    memcpy(reply, "VALUE ", 6);
    memcpy(reply + 6, v, len);
    reply[6 + len] = '\n';
    return len + 7;
  }
  if (word_is(l, w, "DEL") && one_key) {
    return result_text(kvstore_del(key, klen));
  }
  if (word_is(l, w, "COUNT") && w == n) {
    return format_buf((char*)reply, sizeof(reply), "COUNT %u\n", kvstore_count());
  }
  if (word_is(l, w, "PING") && w == n) {
    return text("PONG\n");
  }
  if (word_is(l, w, "QUIT") && w == n) {
    *quit = true;
    return text("BYE\n");
  }
  return text("ERR unknown command\n");
}

static void kv_poll(struct tcp_conn* c) {
  for (int lines = 0; lines < KV_LINES_PER_POLL && tcp_tx_space(c) >= KV_REPLY_MAX; lines++) {
    size_t n = tcp_peek(c, 0, line, KV_LINE_MAX + 1);
    size_t eol = 0;
    while (eol < n && line[eol] != '\n') {
      eol++;
    }
    if (eol == n) {
      if (n > KV_LINE_MAX) {
        tcp_write(c, "ERR line too long\n", 18);
        tcp_close(c);
        return;
      }
      if (tcp_fin_received(c)) {
        tcp_close(c); /* the peer is done; an unterminated last line is dropped */
        return;
      }
      break; /* incomplete line */
    }
    bool quit = false;
    size_t len = execute(line, eol, &quit);
    tcp_write(c, reply, len);
    tcp_consume(c, eol + 1);
    if (quit) {
      tcp_close(c);
      return;
    }
  }
}

static const struct tcp_app kv_app = {.poll = kv_poll};

void kv_start(void) {
  if (service_added("kv")) {
    return;
  }
  kvstore_open();
  tcp_listen(KV_PORT, &kv_app);
  service_add("kv", 0, 0);
}

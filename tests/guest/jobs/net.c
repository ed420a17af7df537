// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Network, disk and service jobs:
 *   ip=A.B.C.D/NN  gw=A.B.C.D  mac=XX:XX:XX:XX:XX:XX  seed=N    configuration
 *   net  echo  echo=tsc  kv  dirtier=N,MS[,R]                   services (serve after the
 *                                                               last job, until the VM ends)
 *   serve=MS                                                    serve for MS ms, then go on
 *   idle=hlt  idle=poll                                         halt when idle / spin
 *   pci  pci=reassign                                           list bus 0 / move BARs
 */
#include "net/net.h"
#include "abi.h"
#include "drivers/pci.h"
#include "jobs/jobs.h"
#include "lib/log.h"
#include "lib/string.h"
#include "services/service.h"
#include "user/bootinfo.h"
#include "user/runtime.h"

static __attribute__((noreturn)) void bad(const char* job, struct job_arg_text arg,
                                          const char* want) {
  guest_fail(EXIT_BAD_ARGUMENT, "%s: bad argument '%.*s' (%s)", job, (int)arg.n, arg.s, want);
}

/* Parses a decimal number of at most max from s[*i] on. */
static bool number(struct job_arg_text a, size_t* i, uint64_t max, uint64_t* out) {
  size_t start = *i;
  uint64_t v = 0;
  while (*i < a.n && a.s[*i] >= '0' && a.s[*i] <= '9' && *i - start < 10) {
    v = v * 10 + (uint64_t)(a.s[*i] - '0');
    (*i)++;
  }
  *out = v;
  return *i > start && v <= max;
}

static bool parse_ipv4(struct job_arg_text a, size_t* i, uint32_t* ip) {
  uint32_t v = 0;
  for (int k = 0; k < 4; k++) {
    uint64_t part;
    if ((k && (*i >= a.n || a.s[(*i)++] != '.')) || !number(a, i, 255, &part)) {
      return false;
    }
    v = v << 8 | (uint32_t)part;
  }
  *ip = v;
  return true;
}

void job_ip(struct job_arg_text arg) {
  size_t i = 0;
  uint32_t ip;
  uint64_t prefix;
  if (!parse_ipv4(arg, &i, &ip) || i >= arg.n || arg.s[i++] != '/' ||
      !number(arg, &i, 32, &prefix) || i != arg.n || prefix == 0) {
    bad("ip", arg, "A.B.C.D/NN");
  }
  net_cfg.ip = ip;
  net_cfg.prefix = (unsigned)prefix;
  net_cfg.mask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
  net_cfg.have_ip = true;
}

void job_gw(struct job_arg_text arg) {
  size_t i = 0;
  uint32_t gw;
  if (!parse_ipv4(arg, &i, &gw) || i != arg.n) {
    bad("gw", arg, "A.B.C.D");
  }
  net_cfg.gw = gw;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

void job_mac(struct job_arg_text arg) {
  if (arg.n != 17) {
    bad("mac", arg, "XX:XX:XX:XX:XX:XX");
  }
  for (int k = 0; k < 6; k++) {
    int hi = hex_digit(arg.s[3 * k]);
    int lo = hex_digit(arg.s[3 * k + 1]);
    if (hi < 0 || lo < 0 || (k < 5 && arg.s[3 * k + 2] != ':')) {
      bad("mac", arg, "XX:XX:XX:XX:XX:XX");
    }
    net_cfg.mac[k] = (uint8_t)(hi << 4 | lo);
  }
  if (net_cfg.mac[0] & 1) {
    bad("mac", arg, "not a multicast address");
  }
  net_cfg.have_mac = true;
}

void job_seed(struct job_arg_text arg) {
  net_cfg.seed = job_arg_u64("seed", arg);
  net_cfg.have_seed = true;
}

/* Without seed=, the seed is the FNV-1a hash of the whole command line. */
static void bring_net_up(void) {
  if (!net_cfg.have_seed) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char* p = boot_info.cmdline; *p; p++) {
      h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    }
    net_cfg.seed = h;
    net_cfg.have_seed = true;
  }
  if (!net_is_up()) {
    net_up();
    netstat_start();
  }
}

void job_net(struct job_arg_text arg) {
  (void)arg;
  bring_net_up();
  service_add("net", 0, 0);
}

void job_echo(struct job_arg_text arg) {
  bool tsc = false;
  if (arg.n) {
    if (!str_equal_n(arg.s, arg.n, "tsc")) {
      bad("echo", arg, "echo or echo=tsc");
    }
    tsc = true;
  }
  bring_net_up();
  echo_start(tsc);
}

void job_kv(struct job_arg_text arg) {
  (void)arg;
  bring_net_up();
  kv_start();
}

void job_dirtier(struct job_arg_text arg) {
  size_t i = 0;
  uint64_t n, ms, region;
  if (!number(arg, &i, UINT32_MAX, &n) || i >= arg.n || arg.s[i++] != ',' ||
      !number(arg, &i, UINT32_MAX, &ms)) {
    bad("dirtier", arg, "N,INTERVAL_MS[,REGION_PAGES]");
  }
  region = n * 4;
  if (i < arg.n && (arg.s[i++] != ',' || !number(arg, &i, UINT32_MAX, &region))) {
    bad("dirtier", arg, "N,INTERVAL_MS[,REGION_PAGES]");
  }
  if (i != arg.n) {
    bad("dirtier", arg, "N,INTERVAL_MS[,REGION_PAGES]");
  }
  dirtier_start(n, ms, region);
}

void job_idle(struct job_arg_text arg) {
  if (str_equal_n(arg.s, arg.n, "poll")) {
    return;
  }
  if (!str_equal_n(arg.s, arg.n, "hlt")) {
    bad("idle", arg, "idle=hlt or idle=poll");
  }
  if (net_is_up()) {
    guest_fail(EXIT_BAD_ARGUMENT, "idle=hlt must come before net, echo and kv");
  }
  idle_enable();
}

void job_serve(struct job_arg_text arg) {
  services_serve_ms(job_arg_u64("serve", arg));
}

static const char* bar_kind(enum pci_bar_kind k) {
  return k == PCI_BAR_IO ? "io" : k == PCI_BAR_MEM32 ? "mem32" : "mem64";
}

void job_pci(struct job_arg_text arg) {
  if (arg.n) {
    if (!str_equal_n(arg.s, arg.n, "reassign")) {
      bad("pci", arg, "pci or pci=reassign");
    }
    pci_reassign = true;
    return;
  }
  struct pci_device* t;
  unsigned n = pci_scan(&t);
  for (unsigned i = 0; i < n; i++) {
    log_line("pci 00:%02x.%x %04x:%04x class 0x%06x", t[i].dev, t[i].fn, t[i].vendor, t[i].device,
             t[i].class_rev >> 8);
    for (int b = 0; b < PCI_NUM_BARS; b++) {
      if (t[i].bar[b].kind != PCI_BAR_NONE) {
        log_line("pci 00:%02x.%x bar%d %s 0x%lx size 0x%lx", t[i].dev, t[i].fn, b,
                 bar_kind(t[i].bar[b].kind), t[i].bar[b].addr, t[i].bar[b].size);
      }
    }
  }
}

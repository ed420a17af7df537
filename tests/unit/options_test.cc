// SPDX-License-Identifier: GPL-2.0-or-later
#include "system/options.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace colo {
namespace {

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kGiB = 1ULL << 30;

Result<CommandLine> parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv = {"colovm"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

CommandLine parse_ok(std::initializer_list<const char*> args) {
  auto r = parse(args);
  EXPECT_TRUE(r.ok()) << r.error().message();
  return r.ok() ? *r : CommandLine{};
}

// The error of a command line that must fail; checks it is one line.
std::string parse_error(std::initializer_list<const char*> args) {
  auto r = parse(args);
  EXPECT_FALSE(r.ok());
  if (r.ok())
    return "";
  const std::string& msg = r.error().message();
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_FALSE(msg.empty());
  return msg;
}

TEST(OptionsTest, Defaults) {
  CommandLine cl = parse_ok({});
  EXPECT_EQ(cl.ram_size, 128 * kMiB);
  EXPECT_EQ(cl.smp, 1);
  EXPECT_EQ(cl.cpu, "qemu64");
  EXPECT_EQ(cl.machine_type, "pc");
  EXPECT_TRUE(cl.debug_exit);
  EXPECT_EQ(cl.kernel, "");
  EXPECT_EQ(cl.initrd, "");
  EXPECT_EQ(cl.append, "");
  EXPECT_TRUE(cl.serial.empty());
  EXPECT_FALSE(cl.nographic);
  EXPECT_FALSE(cl.nodefaults);
  EXPECT_FALSE(cl.no_reboot);
  EXPECT_FALSE(cl.no_shutdown);
  EXPECT_FALSE(cl.start_paused);
  EXPECT_EQ(cl.name, "");
  EXPECT_EQ(cl.pidfile, "");
  EXPECT_FALSE(cl.show_version);
  EXPECT_FALSE(cl.show_help);
  EXPECT_FALSE(cl.debug);
  EXPECT_TRUE(cl.chardevs.empty());
  EXPECT_TRUE(cl.devices.empty());
  EXPECT_EQ(cl.incoming, "");
}

TEST(OptionsTest, MemorySpellings) {
  EXPECT_EQ(parse_ok({"-m", "512"}).ram_size, 512 * kMiB);
  EXPECT_EQ(parse_ok({"-m", "512M"}).ram_size, 512 * kMiB);
  EXPECT_EQ(parse_ok({"-m", "1G"}).ram_size, kGiB);
  EXPECT_EQ(parse_ok({"-m", "1.5G"}).ram_size, 3 * kGiB / 2);
  EXPECT_EQ(parse_ok({"-m", "size=2G"}).ram_size, 2 * kGiB);
  EXPECT_EQ(parse_ok({"-m", "8"}).ram_size, 8 * kMiB);
  EXPECT_EQ(parse_ok({"-m", "262144K"}).ram_size, 256 * kMiB);
  // The last -m wins.
  EXPECT_EQ(parse_ok({"-m", "256", "-m", "1G"}).ram_size, kGiB);
}

TEST(OptionsTest, MemoryErrors) {
  EXPECT_EQ(parse_error({"-m", "12X"}),
            "-m 12X: Parameter 'size' expects a size (a number with an optional suffix B, K, M, "
            "G, T, P or E)");
  EXPECT_EQ(parse_error({"-m", "size=lots"}),
            "-m size=lots: Parameter 'size' expects a size (a number with an optional suffix B, "
            "K, M, G, T, P or E)");
  EXPECT_EQ(parse_error({"-m", "99999999999G"}),
            "-m 99999999999G: Parameter 'size' expects a size (a number with an optional suffix "
            "B, K, M, G, T, P or E)");
  EXPECT_EQ(parse_error({"-m", "4"}), "-m 4: at least 8 MiB of RAM is needed, 4 MiB given");
  EXPECT_EQ(parse_error({"-m", "4K"}), "-m 4K: at least 8 MiB of RAM is needed, 4 KiB given");
  EXPECT_EQ(parse_error({"-m", "0"}), "-m 0: at least 8 MiB of RAM is needed, 0 B given");
  EXPECT_EQ(parse_error({"-m", "8193K"}), "-m 8193K: the RAM size must be a multiple of 4 KiB");
  EXPECT_EQ(parse_error({"-m", "1G,slots=2,maxmem=4G"}),
            "-m 1G,slots=2,maxmem=4G: memory hotplug (slots, maxmem) is not supported");
  EXPECT_EQ(parse_error({"-m", "1G,foo=1"}), "-m 1G,foo=1: Invalid parameter 'foo'");
}

TEST(OptionsTest, SmpSpellings) {
  EXPECT_EQ(parse_ok({"-smp", "2"}).smp, 2);
  EXPECT_EQ(parse_ok({"-smp", "cpus=2,sockets=1"}).smp, 2);
  EXPECT_EQ(parse_ok({"-smp", "4,sockets=1,cores=4,threads=1"}).smp, 4);
  EXPECT_EQ(parse_ok({"-smp", "sockets=2,cores=2,threads=2"}).smp, 8);
  EXPECT_EQ(parse_ok({"-smp", "cores=3"}).smp, 3);
  EXPECT_EQ(parse_ok({"-smp", "2,maxcpus=2"}).smp, 2);
  EXPECT_EQ(parse_ok({"-smp", "255"}).smp, 255);
}

TEST(OptionsTest, SmpErrors) {
  EXPECT_EQ(parse_error({"-smp", "0"}),
            "-smp 0: Invalid CPU topology: CPU count must be greater than 0");
  EXPECT_EQ(parse_error({"-smp", "foo"}),
            "-smp foo: Parameter 'cpus' expects a non-negative number");
  EXPECT_EQ(parse_error({"-smp", "-2"}), "-smp -2: Parameter 'cpus' expects a non-negative number");
  EXPECT_EQ(parse_error({"-smp", "256"}),
            "-smp 256: Invalid SMP CPUs 256. The max CPUs supported is 255");
  EXPECT_EQ(parse_error({"-smp", "2,maxcpus=4"}),
            "-smp 2,maxcpus=4: CPU hotplug (maxcpus > cpus) is not supported");
  EXPECT_EQ(parse_error({"-smp", "2,sockets=x"}),
            "-smp 2,sockets=x: Parameter 'sockets' expects a non-negative number");
  EXPECT_EQ(parse_error({"-smp", "2,books=1"}), "-smp 2,books=1: Invalid parameter 'books'");
}

TEST(OptionsTest, MachineAndAccel) {
  CommandLine cl = parse_ok({"-machine", "pc,accel=kvm"});
  EXPECT_EQ(cl.machine_type, "pc");
  EXPECT_TRUE(cl.debug_exit);
  EXPECT_EQ(parse_ok({"-machine", "type=pc"}).machine_type, "pc");
  EXPECT_EQ(parse_ok({"-M", "pc-i440fx-8.2"}).machine_type, "pc");
  EXPECT_EQ(parse_ok({"-machine", "accel=kvm"}).machine_type, "pc");
  EXPECT_EQ(parse_ok({"-machine", "pc,accel=kvm:tcg"}).machine_type, "pc");
  EXPECT_FALSE(parse_ok({"-machine", "pc,debug-exit=off"}).debug_exit);
  EXPECT_TRUE(parse_ok({"-machine", "pc,debug-exit=on"}).debug_exit);
  EXPECT_TRUE(parse({"-accel", "kvm"}).ok());
  EXPECT_TRUE(parse({"-accel", "kvm:tcg"}).ok());
  EXPECT_TRUE(parse({"-accel", "kvm,thread=single"}).ok());
  EXPECT_TRUE(parse({"-accel", "accel=kvm"}).ok());
  EXPECT_TRUE(parse({"-enable-kvm"}).ok());
  EXPECT_TRUE(parse({"-enable-kvm", "-accel", "kvm", "-machine", "pc,accel=kvm"}).ok());
}

TEST(OptionsTest, MaxRamBelow4g) {
  EXPECT_EQ(parse_ok({}).max_ram_below_4g, 0u);
  EXPECT_EQ(parse_ok({"-machine", "pc,max-ram-below-4g=2G"}).max_ram_below_4g, 2 * kGiB);
  EXPECT_EQ(parse_ok({"-machine", "max-ram-below-4g=3G"}).max_ram_below_4g, 3 * kGiB);
  EXPECT_EQ(parse_ok({"-machine", "max-ram-below-4g=16M"}).max_ram_below_4g, 16 * kMiB);
  EXPECT_EQ(parse_ok({"-machine", "max-ram-below-4g=1536M"}).max_ram_below_4g, 1536 * kMiB);
  const std::string kRange = "max-ram-below-4g must be a multiple of 1 MiB from 16 MiB to 3 GiB";
  EXPECT_EQ(parse_error({"-machine", "max-ram-below-4g=4G"}),
            "-machine max-ram-below-4g=4G: " + kRange);
  EXPECT_EQ(parse_error({"-machine", "max-ram-below-4g=8M"}),
            "-machine max-ram-below-4g=8M: " + kRange);
  EXPECT_EQ(parse_error({"-machine", "max-ram-below-4g=1025K"}),
            "-machine max-ram-below-4g=1025K: " + kRange);
  EXPECT_EQ(parse_error({"-machine", "max-ram-below-4g=lots"}),
            "-machine max-ram-below-4g=lots: Parameter 'max-ram-below-4g' expects a size (a number "
            "with an optional suffix B, K, M, G, T, P or E)");
}

TEST(OptionsTest, MachineAndAccelErrors) {
  EXPECT_EQ(parse_error({"-accel", "tcg"}),
            "-accel tcg: accelerator 'tcg' is not supported: colovm runs only on KVM");
  EXPECT_EQ(parse_error({"-accel", "tcg:kvm"}),
            "-accel tcg:kvm: accelerator 'tcg:kvm' is not supported: colovm runs only on KVM");
  EXPECT_EQ(parse_error({"-accel", "accel=tcg"}),
            "-accel accel=tcg: accelerator 'tcg' is not supported: colovm runs only on KVM");
  EXPECT_EQ(parse_error({"-machine", "pc,accel=tcg"}),
            "-machine pc,accel=tcg: accelerator 'tcg' is not supported: colovm runs only on KVM");
  auto r = parse({"-machine", "q35"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "-machine q35: unsupported machine type 'q35'");
  EXPECT_EQ(r.error().hint(), "use -machine help to list supported machines");
  EXPECT_EQ(parse_error({"-M", "microvm"}), "-M microvm: unsupported machine type 'microvm'");
  EXPECT_EQ(parse_error({"-machine", "help"}),
            "-machine help: Supported machines: pc (x86 PC with direct kernel boot, default)");
  EXPECT_EQ(parse_error({"-machine", "pc,usb=on"}), "-machine pc,usb=on: Invalid parameter 'usb'");
  EXPECT_EQ(parse_error({"-machine", "pc,debug-exit=2"}),
            "-machine pc,debug-exit=2: Parameter 'debug-exit' expects 'on' or 'off'");
}

TEST(OptionsTest, CpuIsKeptRaw) {
  EXPECT_EQ(parse_ok({"-cpu", "host,+x,-y"}).cpu, "host,+x,-y");
  EXPECT_EQ(parse_ok({"-cpu", "qemu64,cx16=off"}).cpu, "qemu64,cx16=off");
}

TEST(OptionsTest, KernelInitrdAppend) {
  CommandLine cl = parse_ok({"-kernel", "/boot/vmlinuz", "-initrd", "/boot/initrd.img", "-append",
                             "console=ttyS0 root=/dev/vda rw"});
  EXPECT_EQ(cl.kernel, "/boot/vmlinuz");
  EXPECT_EQ(cl.initrd, "/boot/initrd.img");
  EXPECT_EQ(cl.append, "console=ttyS0 root=/dev/vda rw");
  // An argument that looks like an option is still the argument.
  EXPECT_EQ(parse_ok({"-append", "-v"}).append, "-v");
  EXPECT_EQ(parse_ok({"-append", ""}).append, "");
}

TEST(OptionsTest, SerialInOrder) {
  CommandLine cl = parse_ok({"-serial", "file:X", "-serial", "stdio", "-serial", "null"});
  EXPECT_EQ(cl.serial, (std::vector<std::string>{"file:X", "stdio", "null"}));
}

TEST(OptionsTest, Flags) {
  CommandLine cl = parse_ok({"-nographic", "-nodefaults", "-no-reboot", "-no-shutdown", "-S",
                             "-version", "-help", "-d", "int,guest_errors"});
  EXPECT_TRUE(cl.nographic);
  EXPECT_TRUE(cl.nodefaults);
  EXPECT_TRUE(cl.no_reboot);
  EXPECT_TRUE(cl.no_shutdown);
  EXPECT_TRUE(cl.start_paused);
  EXPECT_TRUE(cl.show_version);
  EXPECT_TRUE(cl.show_help);
  EXPECT_TRUE(cl.debug);
  EXPECT_TRUE(parse_ok({"-h"}).show_help);
}

TEST(OptionsTest, DoubleDashSpellings) {
  CommandLine cl = parse_ok({"--m", "512", "--nographic", "--smp", "2", "--serial", "stdio"});
  EXPECT_EQ(cl.ram_size, 512 * kMiB);
  EXPECT_TRUE(cl.nographic);
  EXPECT_EQ(cl.smp, 2);
  EXPECT_EQ(cl.serial, std::vector<std::string>{"stdio"});
  EXPECT_TRUE(parse_ok({"--help"}).show_help);
  EXPECT_TRUE(parse_ok({"--version"}).show_version);
}

TEST(OptionsTest, Name) {
  EXPECT_EQ(parse_ok({"-name", "guest=foo"}).name, "foo");
  EXPECT_EQ(parse_ok({"-name", "bar"}).name, "bar");
  EXPECT_EQ(parse_ok({"-name", "guest=vm1,process=colovm-vm1,debug-threads=on"}).name, "vm1");
  EXPECT_EQ(parse_error({"-name", "foo,color=red"}),
            "-name foo,color=red: Invalid parameter 'color'");
  EXPECT_EQ(parse_error({"-name", "foo,debug-threads=sometimes"}),
            "-name foo,debug-threads=sometimes: Parameter 'debug-threads' expects 'on' or 'off'");
}

TEST(OptionsTest, PidfileAndIncoming) {
  CommandLine cl = parse_ok({"-pidfile", "/run/colovm.pid", "-incoming", "tcp:0:4444"});
  EXPECT_EQ(cl.pidfile, "/run/colovm.pid");
  EXPECT_EQ(cl.incoming, "tcp:0:4444");
}

TEST(OptionsTest, DisplayAndVga) {
  EXPECT_TRUE(parse({"-display", "none"}).ok());
  EXPECT_TRUE(parse({"-vga", "none"}).ok());
  EXPECT_EQ(parse_error({"-display", "gtk,zoom-to-fit=on"}),
            "-display gtk,zoom-to-fit=on: Display 'gtk' is not available: colovm has no graphical "
            "display");
  EXPECT_EQ(parse_error({"-vga", "std"}),
            "-vga std: VGA 'std' is not available: colovm has no display");
}

TEST(OptionsTest, DebugExitDevice) {
  CommandLine cl = parse_ok(
      {"-machine", "pc,debug-exit=off", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"});
  EXPECT_TRUE(cl.debug_exit);
  EXPECT_TRUE(cl.devices.empty());
  EXPECT_TRUE(parse({"-device", "driver=isa-debug-exit,iobase=0xf4,id=dbg"}).ok());
  EXPECT_TRUE(parse({"-device", "isa-debug-exit,iobase=244,iosize=1"}).ok());
  EXPECT_EQ(parse_error({"-device", "isa-debug-exit"}),
            "-device isa-debug-exit: isa-debug-exit is available only at iobase=0xf4");
  EXPECT_EQ(parse_error({"-device", "isa-debug-exit,iobase=0x501"}),
            "-device isa-debug-exit,iobase=0x501: isa-debug-exit is available only at iobase=0xf4");
  EXPECT_EQ(parse_error({"-device", "isa-debug-exit,iobase=0xf4,iosize=3"}),
            "-device isa-debug-exit,iobase=0xf4,iosize=3: isa-debug-exit is available only at "
            "iobase=0xf4");
  EXPECT_EQ(parse_error({"-device", "isa-debug-exit,iobase=0xf4,bus=isa.1"}),
            "-device isa-debug-exit,iobase=0xf4,bus=isa.1: Invalid parameter 'bus'");
}

TEST(OptionsTest, RawOptionsKeepOrder) {
  CommandLine cl = parse_ok({
      "-chardev",  "socket,id=c0,path=/tmp/a,server=on",     //
      "-device",   "virtio-net-pci,netdev=n0",               //
      "-chardev",  "file,id=c1,path=/tmp/b",                 //
      "-monitor",  "stdio",                                  //
      "-qmp",      "unix:/tmp/qmp.sock,server=on,wait=off",  //
      "-mon",      "chardev=c0,mode=control",                //
      "-netdev",   "tap,id=n0,script=no",                    //
      "-drive",    "file=disk.qcow2,if=none,id=d0",          //
      "-blockdev", "driver=file,node-name=f0,filename=x",    //
      "-object",   "filter-mirror,id=m0,netdev=n0",          //
      "-device",   "virtio-blk-pci,drive=d0",                //
  });
  EXPECT_EQ(cl.chardevs, (std::vector<std::string>{"socket,id=c0,path=/tmp/a,server=on",
                                                   "file,id=c1,path=/tmp/b"}));
  EXPECT_EQ(cl.devices,
            (std::vector<std::string>{"virtio-net-pci,netdev=n0", "virtio-blk-pci,drive=d0"}));
  EXPECT_EQ(cl.monitors, std::vector<std::string>{"stdio"});
  EXPECT_EQ(cl.qmps, std::vector<std::string>{"unix:/tmp/qmp.sock,server=on,wait=off"});
  EXPECT_EQ(cl.mons, std::vector<std::string>{"chardev=c0,mode=control"});
  EXPECT_EQ(cl.netdevs, std::vector<std::string>{"tap,id=n0,script=no"});
  EXPECT_EQ(cl.drives, std::vector<std::string>{"file=disk.qcow2,if=none,id=d0"});
  EXPECT_EQ(cl.blockdevs, std::vector<std::string>{"driver=file,node-name=f0,filename=x"});
  EXPECT_EQ(cl.objects, std::vector<std::string>{"filter-mirror,id=m0,netdev=n0"});
}

TEST(OptionsTest, DeviceWithBadSyntaxIsAnError) {
  EXPECT_EQ(parse_error({"-device", "e1000,bad key=1"}),
            "-device e1000,bad key=1: Invalid parameter 'bad key'");
}

TEST(OptionsTest, UnknownOption) {
  EXPECT_EQ(parse_error({"-foo"}), "-foo: invalid option");
  EXPECT_EQ(parse_error({"--foo"}), "--foo: invalid option");
  EXPECT_EQ(parse_error({"--"}), "--: invalid option");
  EXPECT_EQ(parse_error({"-hda", "disk.img"}), "-hda: invalid option");
  // Options are not abbreviated and not case-insensitive.
  EXPECT_EQ(parse_error({"-mem", "512"}), "-mem: invalid option");
  EXPECT_EQ(parse_error({"-SMP", "2"}), "-SMP: invalid option");
  // The first bad option is reported, after the good ones took effect.
  EXPECT_EQ(parse_error({"-m", "512", "-bogus", "-alsobogus"}), "-bogus: invalid option");
}

TEST(OptionsTest, MissingArgument) {
  EXPECT_EQ(parse_error({"-m"}), "-m: requires an argument");
  EXPECT_EQ(parse_error({"-nographic", "-kernel"}), "-kernel: requires an argument");
  EXPECT_EQ(parse_error({"--serial"}), "--serial: requires an argument");
}

TEST(OptionsTest, BareArgument) {
  EXPECT_EQ(parse_error({"disk.img"}), "disk.img: unexpected argument (options start with '-')");
  EXPECT_EQ(parse_error({"-m", "512", "disk.img"}),
            "disk.img: unexpected argument (options start with '-')");
  EXPECT_EQ(parse_error({"-"}), "-: unexpected argument (options start with '-')");
  EXPECT_EQ(parse_error({""}), ": unexpected argument (options start with '-')");
}

TEST(OptionsTest, EveryTableOptionIsAccepted) {
  struct Case {
    const char* opt;
    const char* arg;  // nullptr: no argument
  } cases[] = {
      {"-h", nullptr},
      {"-help", nullptr},
      {"-version", nullptr},
      {"-machine", "pc"},
      {"-M", "pc"},
      {"-accel", "kvm"},
      {"-enable-kvm", nullptr},
      {"-cpu", "host"},
      {"-smp", "2"},
      {"-m", "256"},
      {"-kernel", "k"},
      {"-initrd", "i"},
      {"-append", "a"},
      {"-serial", "stdio"},
      {"-nographic", nullptr},
      {"-display", "none"},
      {"-vga", "none"},
      {"-nodefaults", nullptr},
      {"-no-reboot", nullptr},
      {"-no-shutdown", nullptr},
      {"-S", nullptr},
      {"-name", "g"},
      {"-pidfile", "p"},
      {"-d", "int"},
      {"-device", "e1000"},
      {"-chardev", "null,id=c"},
      {"-monitor", "none"},
      {"-qmp", "stdio"},
      {"-mon", "chardev=c"},
      {"-netdev", "user,id=n"},
      {"-drive", "file=x"},
      {"-blockdev", "driver=null-co,node-name=n"},
      {"-object", "memory-backend-ram,id=m,size=1G"},
      {"-incoming", "defer"},
  };
  for (const auto& c : cases) {
    auto r = c.arg != nullptr ? parse({c.opt, c.arg}) : parse({c.opt});
    EXPECT_TRUE(r.ok()) << c.opt << ": " << r.error().message();
    // A flag option given an extra word treats the word as a bare argument.
    if (c.arg == nullptr) {
      auto extra = parse({c.opt, "word"});
      ASSERT_FALSE(extra.ok()) << c.opt;
      EXPECT_EQ(extra.error().message(), "word: unexpected argument (options start with '-')");
    } else {
      auto missing = parse({c.opt});
      ASSERT_FALSE(missing.ok()) << c.opt;
      EXPECT_EQ(missing.error().message(), std::string(c.opt) + ": requires an argument");
    }
  }
}

TEST(OptionsTest, HelpListsVisibleOptions) {
  std::string help = command_line_help();
  // "-opt ARG" padded to 40 columns, then the text.
  auto line = [](std::string left, const std::string& text) {
    if (left.size() < 40) {
      left.resize(40, ' ');
    } else {
      left += "  ";
    }
    return "\n" + left + text + "\n";
  };
  EXPECT_EQ(help.rfind("colovm ", 0), 0u);
  EXPECT_NE(help.find("\nusage: colovm [options]\n"), std::string::npos);
  EXPECT_NE(help.find(line("-m [size=]megs[M|G]", "guest RAM (default 128M)")), std::string::npos)
      << help;
  EXPECT_NE(help.find(line("-nographic", "no display; serial port on stdio")), std::string::npos)
      << help;
  EXPECT_NE(
      help.find(line("-machine [type=]pc[,accel=kvm][,max-ram-below-4g=size][,debug-exit=on|off]",
                     "the machine")),
      std::string::npos)
      << help;
  EXPECT_NE(help.find(line("-S", "do not start the vCPUs at startup (use 'cont' in the monitor)")),
            std::string::npos)
      << help;
  // Hidden aliases are not listed.
  EXPECT_EQ(help.find("\n-M "), std::string::npos);
  EXPECT_EQ(help.find("\n-h "), std::string::npos);
  EXPECT_EQ(help.find("\n-vga"), std::string::npos);
  EXPECT_EQ(help.back(), '\n');
}

}  // namespace
}  // namespace colo

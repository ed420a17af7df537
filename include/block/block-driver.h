// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: block/block-driver.h
//
// The interface a block driver implements (QEMU: BlockDriver in block_int.h). A driver is a
// stateless factory registered by name; open() consumes the driver's own options from an
// OptionReader, opens its children through the OpenContext and returns a BlockNode subclass.
// The generic node options (node-name, read-only, cache.*, discard, detect-zeroes) have already
// been taken out and are passed as NodeOptions. Anything the driver leaves unread is reported
// by the caller as an unexpected parameter.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "block/block.h"
#include "block/options.h"
#include "util/error.h"

namespace colo::block {

enum class DriverKind {
  kProtocol,  // talks to the host (file); has a filename
  kFormat,    // interprets its "file" child (raw, qcow2)
  kFilter,    // passes requests through (replication, later)
};

// Whether a child must be present.
enum class ChildRequirement { kRequired, kOptional };

// The services a driver may use while opening a node; implemented by BlockGraph.
class OpenContext {
 public:
  virtual ~OpenContext() = default;

  OptionSyntax syntax() const { return syntax_; }

  // Opens the child `role` ("file", "backing") described in `opts`: a reference to an
  // existing node, an inline dictionary, or (kOptional) nothing, which returns nullptr.
  // `parent` supplies the options the child inherits (read-only, cache.*, discard; a backing
  // child is read-only by default).
  virtual Result<std::shared_ptr<BlockNode>> open_child(OptionReader& opts, std::string_view role,
                                                        const NodeOptions& parent,
                                                        ChildRequirement requirement) = 0;

  // Opens an image by file name (a backing file named in an image header). An empty `format`
  // means probe (with a warning if it guesses raw).
  virtual Result<std::shared_ptr<BlockNode>> open_image(const std::string& filename,
                                                        const std::string& format,
                                                        const NodeOptions& parent,
                                                        std::string_view role) = 0;

  // How deep in a chain of backing files the node being opened is (0 for the top).
  int backing_depth() const { return backing_depth_; }

 protected:
  explicit OpenContext(OptionSyntax syntax) : syntax_(syntax) {}

  OptionSyntax syntax_;
  int backing_depth_ = 0;
};

class BlockDriver {
 public:
  virtual ~BlockDriver() = default;

  // The name used in driver= and format=, e.g. "qcow2".
  virtual std::string_view name() const = 0;
  virtual DriverKind kind() const = 0;

  // How sure the driver is that `head` (the first bytes of a file, up to 2 KiB) is in its
  // format: 0 = not at all, 100 = certain. Only format drivers probe.
  virtual int probe(std::span<const uint8_t> head) const { return 0; }

  // Opens a node; `node_options` is the generic part, `opts` the driver's own options.
  virtual Result<std::shared_ptr<BlockNode>> open(OpenContext& ctx, OptionReader& opts,
                                                  const NodeOptions& node_options) const = 0;
};

// Registers a driver under driver->name(); a second driver with the same name is an error.
// The built-in drivers (file, host_device, raw, qcow2) are always registered.
Status register_block_driver(std::unique_ptr<BlockDriver> driver);
const BlockDriver* find_block_driver(std::string_view name);
std::vector<const BlockDriver*> block_drivers();

}  // namespace colo::block

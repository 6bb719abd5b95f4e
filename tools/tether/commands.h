// The subcommands of the `tether` tool. Each lives in its own file(s) and
// adds itself to the application with one function; main.cpp calls them all.
//
// To add a subcommand: write tools/tether/<name>.cpp defining
// `void addNameCommand(CLI::App& app)`, declare it here and call it from
// main.cpp. Inside, create it with app.add_subcommand(), give every option
// a description, and set a callback that does the work. The callback ends
// normally on success; on failure it prints "tether <name>: <what>" on
// stderr (or a JSON "error" event under --json) and calls exitWith() with
// one of the statuses below.
#pragma once

#include <CLI/CLI.hpp>

namespace tether::cli {

// Exit statuses, the same for every subcommand (listed by `tether --help`).
enum ExitStatus : int {
  kExitOk = 0,
  kExitFailed = 1,     // the job failed: refused, interrupted or not verified
  kExitUsage = 2,      // bad command line
  kExitNetwork = 3,    // cannot resolve, connect or listen
  kExitLocalFile = 4,  // a local file or directory cannot be read or used
};

// Ends the running subcommand: main() returns `status`. (CLI11 carries its
// RuntimeError out of parsing without printing anything.)
[[noreturn]] inline void exitWith(int status) { throw CLI::RuntimeError(status); }

void addSendCommand(CLI::App& app);
void addReceiveCommand(CLI::App& app);
// Qt's network examples as commands (fortune_server.cpp, fortune_client.cpp,
// broadcast.cpp, multicast.cpp, lookup.cpp, interfaces.cpp, echo_server.cpp).
void addFortuneServerCommand(CLI::App& app);
void addFortuneCommand(CLI::App& app);
void addBroadcastCommand(CLI::App& app);
void addMulticastCommand(CLI::App& app);
void addLookupCommand(CLI::App& app);
void addInterfacesCommand(CLI::App& app);
void addEchoServerCommand(CLI::App& app);

}  // namespace tether::cli

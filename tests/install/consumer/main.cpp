// A program outside the tether tree, built against the installed package.
#include <tether/event_loop.h>
#include <tether/timer.h>

#include <cstdio>

int main() {
  tether::EventLoop loop;
  int ticks = 0;
  tether::Timer timer;
  timer.timeout.connect([&] {
    if (++ticks == 3) loop.quit();
  });
  timer.start(1);
  loop.exec();
  std::printf("round trip ok: %d ticks\n", ticks);
  return ticks == 3 ? 0 : 1;
}

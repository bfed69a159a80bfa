/* maxrss.c -- run a command and report its own peak RSS and CPU times
 *
 *     maxrss REPORT command [args...]
 *
 * bench.py runs every measured child through this: wait4 of a child that
 * the Python parent forked reports a peak RSS that includes the parent's
 * own (Linux records the forked copy's high-water mark at exec), e.g. the
 * 200 MB of data bench.py generated in-process. Forked from this small
 * process instead, the command's figure carries at most its ~1 MB.
 * Writes "maxrss_kb user_s sys_s" to REPORT and exits with the command's
 * status (128 + signal when killed). Built by bench.py with cc. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
  if(argc < 3) {
    fprintf(stderr, "usage: maxrss REPORT command [args...]\n");
    return 2;
  }
  pid_t pid = fork();
  if(pid < 0) {
    perror("maxrss: fork");
    return 127;
  }
  if(pid == 0) {
    execvp(argv[2], argv + 2);
    perror("maxrss: exec");
    _exit(127);
  }
  int status;
  struct rusage ru;
  while(wait4(pid, &status, 0, &ru) < 0)
    ;
  FILE *f = fopen(argv[1], "w");
  if(!f || fprintf(f, "%ld %ld.%06ld %ld.%06ld\n", ru.ru_maxrss, (long)ru.ru_utime.tv_sec,
                   (long)ru.ru_utime.tv_usec, (long)ru.ru_stime.tv_sec,
                   (long)ru.ru_stime.tv_usec) < 0 || fclose(f) != 0) {
    perror("maxrss: report");
    return 127;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * podman-probe: the `curl` (and the one-line `sh -c`) that a Kubernetes httpGet or
 * tcpSocket probe needs inside an image when `podman kube play` runs it.
 *
 * Kubernetes' kubelet makes httpGet probes itself, from the node, and needs nothing in
 * the image. Podman (4.x) instead turns each probe into a health check that runs, inside
 * the container,
 *
 *     /bin/sh -c "curl -f http://localhost:PORT/PATH || exit 1"     (httpGet)
 *     /bin/sh -c "nc -z -v  PORT || exit 1"                         (tcpSocket, no host)
 *
 * Apiary's images are FROM scratch: no shell, no curl. Scripts/build-images.sh
 * installs this one static binary as /bin/sh, /usr/bin/curl and /usr/bin/nc. It is
 * not a shell: as `sh -c LINE` it understands only words separated by spaces, joined
 * by `||` and `&&`, each being `curl [-f] [-s] [-S] URL`, `nc -z [-v] [HOST] PORT`,
 * `exit [N]`, `true` or `false`; anything else exits 127 with a message. As curl it
 * makes one HTTP/1.0 GET to an http:// URL whose host is `localhost` or a numeric IPv4
 * or IPv6 address (no name resolution: a static binary has none worth trusting), with
 * a 5 s deadline; it prints the status line, and exits 0 for a 2xx or 3xx answer, 22
 * for 4xx and 5xx with -f (curl's codes), 7 when it cannot connect, 28 on a time-out.
 *
 * Written by hand because no Debian package offers a static curl small enough for a
 * scratch image (busybox-static would add a real shell). Build:
 *     gcc -static -Os -s -o podman-probe Deploy/images/probe.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_MS 5000
#define MAX_WORDS 64

enum { OK = 0, E_USAGE = 2, E_CONNECT = 7, E_HTTP = 22, E_TIMEOUT = 28, E_UNSUPPORTED = 127 };

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits until fd is ready for `events` or the deadline passes: 1 ready, 0 time-out. */
static int wait_for(int fd, short events, long long deadline) {
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0) return 0;
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, (int)left);
    if (n > 0) return 1;
    if (n == 0) return 0;
    if (errno != EINTR) return 0;
  }
}

/* Connects to host:port (host: localhost or numeric). Returns fd, or -code. */
static int dial(const char *host, int port, long long deadline) {
  struct sockaddr_storage address;
  socklen_t length;
  memset(&address, 0, sizeof address);
  struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
  if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((unsigned short)port);
    length = sizeof *v4;
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((unsigned short)port);
    length = sizeof *v6;
  } else {
    fprintf(stderr, "podman-probe: host %s is neither localhost nor a numeric address\n", host);
    return -E_CONNECT;
  }
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -E_CONNECT;
  if (connect(fd, (struct sockaddr *)&address, length) != 0) {
    if (errno != EINPROGRESS) {
      fprintf(stderr, "podman-probe: connect to %s:%d: %s\n", host, port, strerror(errno));
      close(fd);
      return -E_CONNECT;
    }
    if (!wait_for(fd, POLLOUT, deadline)) {
      fprintf(stderr, "podman-probe: connect to %s:%d timed out\n", host, port);
      close(fd);
      return -E_TIMEOUT;
    }
    int error = 0;
    socklen_t size = sizeof error;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) {
      fprintf(stderr, "podman-probe: connect to %s:%d: %s\n", host, port, strerror(error));
      close(fd);
      return -E_CONNECT;
    }
  }
  return fd;
}

/* Splits http://HOST[:PORT][/PATH] into its parts; [v6] hosts in brackets. */
static int parse_url(const char *url, char *host, size_t host_size, int *port, const char **path) {
  const char *prefix = "http://";
  if (strncmp(url, prefix, strlen(prefix)) != 0) {
    fprintf(stderr, "podman-probe: only http:// URLs are supported, not %s\n", url);
    return -1;
  }
  const char *p = url + strlen(prefix);
  const char *end;
  if (*p == '[') {
    end = strchr(p, ']');
    if (!end) return -1;
    if ((size_t)(end - p - 1) >= host_size) return -1;
    memcpy(host, p + 1, (size_t)(end - p - 1));
    host[end - p - 1] = 0;
    end++;
  } else {
    end = p + strcspn(p, ":/");
    if ((size_t)(end - p) >= host_size || end == p) return -1;
    memcpy(host, p, (size_t)(end - p));
    host[end - p] = 0;
  }
  *port = 80;
  if (*end == ':') {
    char *after;
    long value = strtol(end + 1, &after, 10);
    if (after == end + 1 || value < 1 || value > 65535) return -1;
    *port = (int)value;
    end = after;
  }
  *path = *end == '/' ? end : "/";
  return 0;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* curl [-f] URL; as podman-probe, -f is implied. */
static int curl(int argc, char **argv) {
  int fail = strcmp(base_name(argv[0]), "podman-probe") == 0;
  const char *url = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--fail") == 0) fail = 1;
    else if (strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "-S") == 0 || strcmp(argv[i], "-sS") == 0) continue;
    else if (argv[i][0] == '-') {
      fprintf(stderr, "podman-probe: curl option %s is not supported\n", argv[i]);
      return E_USAGE;
    } else url = argv[i];
  }
  if (!url) {
    fprintf(stderr, "usage: curl [-f] http://HOST:PORT/PATH\n");
    return E_USAGE;
  }
  char host[256];
  int port;
  const char *path;
  if (parse_url(url, host, sizeof host, &port, &path) != 0) {
    fprintf(stderr, "podman-probe: cannot read the URL %s\n", url);
    return E_USAGE;
  }
  long long deadline = now_ms() + DEADLINE_MS;
  int fd = dial(host, port, deadline);
  if (fd < 0) return -fd;
  char request[2048];
  int size = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: %s:%d\r\nUser-Agent: podman-probe\r\n\r\n",
                      path, host, port);
  if (size <= 0 || (size_t)size >= sizeof request) {
    close(fd);
    return E_USAGE;
  }
  for (int sent = 0; sent < size;) {
    if (!wait_for(fd, POLLOUT, deadline)) { close(fd); return E_TIMEOUT; }
    ssize_t n = send(fd, request + sent, (size_t)(size - sent), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) { close(fd); return E_CONNECT; }
    if (n > 0) sent += (int)n;
  }
  /* The status line is all that is needed: "HTTP/1.x NNN reason". */
  char answer[512];
  size_t have = 0;
  while (have < sizeof answer - 1 && !memchr(answer, '\n', have)) {
    if (!wait_for(fd, POLLIN, deadline)) {
      fprintf(stderr, "podman-probe: %s answered nothing within %d ms\n", url, DEADLINE_MS);
      close(fd);
      return E_TIMEOUT;
    }
    ssize_t n = recv(fd, answer + have, sizeof answer - 1 - have, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      break;
    }
    have += (size_t)n;
  }
  close(fd);
  answer[have] = 0;
  char *line_end = strpbrk(answer, "\r\n");
  if (line_end) *line_end = 0;
  int status = 0;
  if (sscanf(answer, "HTTP/%*d.%*d %d", &status) != 1) {
    fprintf(stderr, "podman-probe: %s: not an HTTP answer\n", url);
    return E_CONNECT;
  }
  printf("%s %s\n", url, answer);
  if (fail && status >= 400) return E_HTTP;
  return OK;
}

/* nc -z [-v] [HOST] PORT: can a connection be made. */
static int nc(int argc, char **argv) {
  const char *words[2];
  int count = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-z") == 0 || strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "-zv") == 0) continue;
    if (count == 2) return E_USAGE;
    words[count++] = argv[i];
  }
  /* podman 4.3 writes an empty host when the probe names none ("nc -z -v  6379"),
     which the split above drops: a lone word is the port, on localhost. */
  if (count == 1) {
    words[1] = words[0];
    words[0] = "localhost";
    count = 2;
  }
  if (count != 2) {
    fprintf(stderr, "usage: nc -z [HOST] PORT\n");
    return E_USAGE;
  }
  int port = atoi(words[1]);
  if (port < 1 || port > 65535) return E_USAGE;
  int fd = dial(words[0], port, now_ms() + DEADLINE_MS);
  if (fd < 0) return 1;
  close(fd);
  printf("%s %d open\n", words[0], port);
  return OK;
}

static int run(int argc, char **argv);

/* sh -c LINE, for LINE made of simple commands joined by || and &&. */
static int shell(const char *line) {
  char copy[4096];
  if (strlen(line) >= sizeof copy) return E_UNSUPPORTED;
  strcpy(copy, line);
  char *words[MAX_WORDS];
  int count = 0;
  for (char *word = strtok(copy, " \t\n"); word; word = strtok(NULL, " \t\n")) {
    if (count == MAX_WORDS - 1) return E_UNSUPPORTED;
    if (strpbrk(word, "'\"`$;|&<>()\\*?") && strcmp(word, "||") != 0 && strcmp(word, "&&") != 0) {
      fprintf(stderr, "podman-probe: sh -c supports plain words joined by || and && only, not %s\n", word);
      return E_UNSUPPORTED;
    }
    words[count++] = word;
  }
  int status = 0;
  int start = 0;
  const char *joiner = NULL; /* how the command at `start` follows the previous one */
  while (start <= count) {
    int end = start;
    while (end < count && strcmp(words[end], "||") != 0 && strcmp(words[end], "&&") != 0) end++;
    int skip = joiner && ((strcmp(joiner, "||") == 0 && status == 0) || (strcmp(joiner, "&&") == 0 && status != 0));
    if (!skip && end > start) {
      char *argv[MAX_WORDS];
      for (int i = start; i < end; i++) argv[i - start] = words[i];
      argv[end - start] = NULL;
      if (strcmp(argv[0], "exit") == 0) exit(end - start > 1 ? atoi(argv[1]) : status);
      status = run(end - start, argv);
    }
    if (end == count) break;
    joiner = words[end];
    start = end + 1;
  }
  return status;
}

static int run(int argc, char **argv) {
  const char *name = base_name(argv[0]);
  if (strcmp(name, "curl") == 0 || strcmp(name, "podman-probe") == 0) return curl(argc, argv);
  if (strcmp(name, "nc") == 0) return nc(argc, argv);
  if (strcmp(name, "true") == 0) return 0;
  if (strcmp(name, "false") == 0) return 1;
  if (strcmp(name, "sh") == 0) {
    if (argc == 3 && strcmp(argv[1], "-c") == 0) return shell(argv[2]);
    fprintf(stderr, "podman-probe: this sh runs probe lines only: sh -c 'curl -f URL || exit 1'\n");
    return E_UNSUPPORTED;
  }
  fprintf(stderr, "podman-probe: %s: not supported (curl, nc, sh -c, exit, true, false)\n", name);
  return E_UNSUPPORTED;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  return run(argc, argv);
}

#define _GNU_SOURCE
/* Sockets on loopback: a TCP echo between a forked server and its parent, UDP, an AF_UNIX
   socketpair passing a descriptor (SCM_RIGHTS), and the waiting calls (poll, select, epoll)
   on them, plus eventfd and timerfd. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %d)\n", __LINE__, #c, errno); failures++; } } while (0)

static void tcp_echo(void) {
    int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(server >= 0);
    int one = 1;
    CHECK(setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(server, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(listen(server, 4) == 0);
    socklen_t len = sizeof addr;
    CHECK(getsockname(server, (struct sockaddr *)&addr, &len) == 0 && len == sizeof addr);
    CHECK(ntohs(addr.sin_port) != 0);
    pid_t pid = fork();
    if (pid == 0) {                      /* the echo server: one connection, echo until EOF */
        struct sockaddr_in peer;
        socklen_t plen = sizeof peer;
        int c = accept4(server, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
        if (c < 0) _exit(2);
        char buf[256];
        ssize_t n;
        while ((n = recv(c, buf, sizeof buf, 0)) > 0) send(c, buf, n, 0);
        close(c);
        _exit(peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK) ? 0 : 3);
    }
    close(server);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(client, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    int value = 0;
    len = sizeof value;
    CHECK(getsockopt(client, IPPROTO_TCP, TCP_NODELAY, &value, &len) == 0 && value == 1);
    struct sockaddr_in peer;
    len = sizeof peer;
    CHECK(getpeername(client, (struct sockaddr *)&peer, &len) == 0 && peer.sin_port == addr.sin_port);
    const char *lines[] = {"hello", "echo over loopback", "bye"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(lines[i]);
        CHECK(send(client, lines[i], n, 0) == (ssize_t)n);
        struct pollfd p = {.fd = client, .events = POLLIN};
        CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN));
        char buf[64] = {0};
        size_t got = 0;
        while (got < n) {
            ssize_t r = recv(client, buf + got, sizeof buf - 1 - got, 0);
            if (r <= 0) break;
            got += r;
        }
        CHECK(got == n && memcmp(buf, lines[i], n) == 0);
        printf("echoed: %s\n", buf);
    }
    CHECK(shutdown(client, SHUT_WR) == 0);
    char end;
    CHECK(recv(client, &end, 1, 0) == 0);
    close(client);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void udp(void) {
    int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(b, (struct sockaddr *)&addr, sizeof addr) == 0);
    socklen_t len = sizeof addr;
    CHECK(getsockname(b, (struct sockaddr *)&addr, &len) == 0);
    CHECK(sendto(a, "datagram", 8, 0, (struct sockaddr *)&addr, sizeof addr) == 8);
    char buf[16] = {0};
    struct sockaddr_in from;
    len = sizeof from;
    CHECK(recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &len) == 8);
    CHECK(strcmp(buf, "datagram") == 0 && from.sin_family == AF_INET);
    printf("udp: %s\n", buf);
    close(a);
    close(b);
}

static void unix_rights(void) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    char byte = 'x';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union { struct cmsghdr h; char space[CMSG_SPACE(sizeof(int))]; } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.space,
                         .msg_controllen = sizeof u.space};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pipefd[1], sizeof(int));
    CHECK(sendmsg(sv[0], &msg, 0) == 1);
    char got = 0;
    iov.iov_base = &got;
    memset(u.space, 0, sizeof u.space);
    msg.msg_controllen = sizeof u.space;
    CHECK(recvmsg(sv[1], &msg, 0) == 1 && got == 'x');
    c = CMSG_FIRSTHDR(&msg);
    CHECK(c && c->cmsg_type == SCM_RIGHTS);
    int passed = -1;
    if (c) memcpy(&passed, CMSG_DATA(c), sizeof passed);
    CHECK(passed >= 0 && passed != pipefd[1]);
    CHECK(write(passed, "via fd", 6) == 6);
    char buf[8] = {0};
    CHECK(read(pipefd[0], buf, 6) == 6 && strcmp(buf, "via fd") == 0);
    printf("passed a descriptor: %s\n", buf);

    /* select and epoll on the pair */
    CHECK(write(sv[0], "e", 1) == 1);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(sv[1], &rd);
    struct timeval tv = {1, 0};
    CHECK(select(sv[1] + 1, &rd, NULL, NULL, &tv) == 1 && FD_ISSET(sv[1], &rd));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ull};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev) == 0);
    struct epoll_event out[4];
    CHECK(epoll_wait(ep, out, 4, 1000) == 1 && out[0].data.u64 == 0x1122334455667788ull);
    CHECK(out[0].events & EPOLLIN);
    CHECK(read(sv[1], buf, 1) == 1);
    CHECK(epoll_wait(ep, out, 4, 0) == 0);

    int efd = eventfd(3, EFD_CLOEXEC);
    uint64_t count = 0;
    CHECK(read(efd, &count, 8) == 8 && count == 3);
    struct itimerspec its = {.it_value = {0, 20 * 1000 * 1000}};
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    CHECK(timerfd_settime(tfd, 0, &its, NULL) == 0);
    struct itimerspec cur;
    CHECK(timerfd_gettime(tfd, &cur) == 0 && cur.it_value.tv_nsec <= 20 * 1000 * 1000);
    CHECK(read(tfd, &count, 8) == 8 && count == 1);
    printf("events ok\n");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    tcp_echo();
    udp();
    unix_rights();
    printf("net: %d failures\n", failures);
    return failures;
}

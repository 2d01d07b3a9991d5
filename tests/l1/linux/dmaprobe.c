/* dmaprobe: run as root inside the L1 Linux guest (tests/integration/
 * test_dma.py) to try what a malicious L1 would: read and write the
 * hypervisor's memory with a bus-master device. The device is QEMU's edu
 * (PCI 1234:11e8), whose DMA engine copies between memory and a 4 KiB
 * buffer of its own at DMA address 0x40000 (registers in BAR0: 0x80
 * source, 0x88 destination, 0x90 count, 0x98 command: bit 0 start, bit 1
 * edu-to-memory). It prints
 *
 *   dmaprobe: own memory round trip ok|FAILED
 *   dmaprobe: dma read 0xBASE=0xQWORD
 *   dmaprobe: dma write 0xBASE done
 *   dmaprobe: iommu register 0xADDR=0xQWORD   (with iommu_mmio=0xADDR)
 *
 * the round trip through a page of its own (DMA to L1's memory must keep
 * working), and, for every large "Reserved" range of /proc/iomem (the
 * hypervisor's region is one), the first 8 bytes the device read there
 * (a refused read leaves no byte of the region: QEMU's edu then holds
 * zeros or its earlier MARKER) and a write of MARKER there. Built static by tools/linux-l1.sh. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define EDU_ID 0x00
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 1u
#define EDU_CMD_TO_RAM 2u
#define EDU_BUF 0x40000ULL
#define PCI_COMMAND 4
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define MARKER 0x2152414B52414DULL /* "MARKER!" */
#define MAX_RANGES 16
#define MIN_RANGE (16ULL << 20)

static volatile uint8_t *bar;

static int read_hex(const char *dir, const char *file, unsigned *v)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    int ok = f && fscanf(f, "%x", v) == 1;
    if (f)
        fclose(f);
    return ok;
}

/* The edu device's sysfs directory, memory decoding and bus mastering on. */
static int find_edu(char *dir, size_t len)
{
    DIR *d = opendir("/sys/bus/pci/devices");
    struct dirent *e;
    int found = 0;
    while (d && !found && (e = readdir(d))) {
        unsigned vendor, device;
        snprintf(dir, len, "/sys/bus/pci/devices/%s", e->d_name);
        found = read_hex(dir, "vendor", &vendor) && read_hex(dir, "device", &device) &&
                vendor == 0x1234 && device == 0x11e8;
    }
    if (d)
        closedir(d);
    if (!found)
        return 0;
    char path[600];
    snprintf(path, sizeof path, "%s/config", dir);
    int fd = open(path, O_RDWR);
    uint16_t cmd = 0;
    if (fd < 0 || pread(fd, &cmd, 2, PCI_COMMAND) != 2)
        return 0;
    cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    int ok = pwrite(fd, &cmd, 2, PCI_COMMAND) == 2;
    close(fd);
    return ok;
}

static int map_bar(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/resource0", dir);
    int fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0)
        return 0;
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return 0;
    bar = p;
    return (*(volatile uint32_t *)(bar + EDU_ID) & 0xFF) == 0xED;
}

static void reg64(unsigned off, uint64_t v)
{
    *(volatile uint64_t *)(bar + off) = v;
}

/* One transfer; 0 if the engine did not finish within 5 s (it takes
 * 100 ms of QEMU's virtual clock). */
static int dma(uint64_t src, uint64_t dst, uint64_t count, uint32_t cmd)
{
    reg64(EDU_DMA_SRC, src);
    reg64(EDU_DMA_DST, dst);
    reg64(EDU_DMA_COUNT, count);
    *(volatile uint32_t *)(bar + EDU_DMA_CMD) = cmd | EDU_CMD_START;
    for (int i = 0; i < 500; i++) {
        if (!(*(volatile uint32_t *)(bar + EDU_DMA_CMD) & EDU_CMD_START))
            return 1;
        usleep(10000);
    }
    return 0;
}

/* A locked page of ours and its physical address (/proc/self/pagemap). */
static uint64_t *own_page(uint64_t *pa)
{
    uint64_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mlock(p, 4096))
        return NULL;
    p[0] = 1;
    int fd = open("/proc/self/pagemap", O_RDONLY);
    uint64_t e = 0;
    if (fd < 0 || pread(fd, &e, 8, (off_t)((uintptr_t)p / 4096 * 8)) != 8 || !(e >> 63))
        return NULL;
    close(fd);
    *pa = (e & ((1ULL << 55) - 1)) * 4096;
    return *pa ? p : NULL;
}

static int find_reserved(uint64_t *ranges)
{
    FILE *f = fopen("/proc/iomem", "r");
    char line[256];
    int n = 0;
    while (f && fgets(line, sizeof line, f) && n < MAX_RANGES) {
        unsigned long long lo, hi;
        if (line[0] == ' ' || sscanf(line, "%llx-%llx", &lo, &hi) != 2)
            continue;
        if (strstr(line, ": Reserved") && hi - lo + 1 >= MIN_RANGE)
            ranges[n++] = lo;
    }
    if (f)
        fclose(f);
    return n;
}

/* With iommu_mmio=0xADDR on the kernel command line: the first register
 * of the IOMMU there (its device table base), read through /dev/mem, as
 * an L1 that wants to reprogram it would. */
static void read_iommu_register(void)
{
    char line[1024] = "";
    FILE *f = fopen("/proc/cmdline", "r");
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = 0;
        fclose(f);
    }
    const char *p = strstr(line, "iommu_mmio=");
    if (!p)
        return;
    unsigned long long base = strtoull(p + strlen("iommu_mmio="), NULL, 0);
    int fd = open("/dev/mem", O_RDONLY | O_SYNC);
    void *m = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, (off_t)base);
    if (m == MAP_FAILED) {
        printf("dmaprobe: iommu register %#llx unreadable\n", base);
    } else {
        printf("dmaprobe: iommu register %#llx=0x%016llx\n", base,
               (unsigned long long)*(volatile uint64_t *)m);
        munmap(m, 4096);
    }
    if (fd >= 0)
        close(fd);
}

int main(void)
{
    char dir[300];
    uint64_t pa_a, pa_b, ranges[MAX_RANGES];
    uint64_t *a = own_page(&pa_a), *b = own_page(&pa_b);
    if (!find_edu(dir, sizeof dir) || !map_bar(dir) || !a || !b) {
        printf("dmaprobe: no usable edu device\n");
        return 1;
    }
    /* Our page -> device -> our other page. */
    a[0] = 0x1122334455667788ULL;
    b[0] = 0;
    int ok = dma(pa_a, EDU_BUF, 8, 0) && dma(EDU_BUF, pa_b, 8, EDU_CMD_TO_RAM) &&
             b[0] == a[0];
    printf("dmaprobe: own memory round trip %s\n", ok ? "ok" : "FAILED");
    int n = find_reserved(ranges);
    for (int i = 0; i < n; i++) {
        a[0] = MARKER;
        b[0] = 0;
        dma(pa_a, EDU_BUF, 8, 0); /* the device's buffer holds MARKER */
        dma(ranges[i], EDU_BUF, 8, 0);
        dma(EDU_BUF, pa_b, 8, EDU_CMD_TO_RAM);
        printf("dmaprobe: dma read %#llx=0x%016llx%s\n", (unsigned long long)ranges[i],
               (unsigned long long)b[0], b[0] == MARKER ? " (buffer unchanged)" : "");
        dma(pa_a, EDU_BUF, 8, 0);
        dma(EDU_BUF, ranges[i], 8, EDU_CMD_TO_RAM);
        printf("dmaprobe: dma write %#llx done\n", (unsigned long long)ranges[i]);
    }
    read_iommu_register();
    return ok ? 0 : 1;
}

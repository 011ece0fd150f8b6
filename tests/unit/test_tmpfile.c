/* base/tmpfile: temporary names are the stem plus twelve random
 * characters, never repeat, and the file is created exclusively. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/tmpfile.h"

static char folder[64];

static void make_folder(void)
{
    snprintf(folder, sizeof folder, "/tmp/tm-tmpfile-XXXXXX");
    cr_assert_not_null(mkdtemp(folder));
}

static void remove_folder(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", folder);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(tmpfile, .init = make_folder, .fini = remove_folder);

Test(tmpfile, name_is_stem_dash_twelve_random_characters)
{
    char stem[128], name[160];
    snprintf(stem, sizeof stem, "%s/out.h5.tmp-1", folder);
    tm_error err = {0};
    int fd = tm_tmpfile_create(stem, name, sizeof name, &err);
    cr_assert_geq(fd, 0, "%s", err.msg);
    close(fd);
    size_t n = strlen(stem);
    cr_assert_eq(strncmp(name, stem, n), 0);
    cr_assert_eq(name[n], '-');
    cr_assert_eq(strlen(name + n + 1), 12u);
    cr_assert_eq(strspn(name + n + 1, "abcdefghijklmnopqrstuvwxyz0123456789"), 12u);
}

Test(tmpfile, names_do_not_repeat)
{
    /* Twenty names from 36^12 (about 4.7e18) possibilities: a repeat has
     * probability below 1e-16 unless the source is not random. */
    char stem[128], names[20][160];
    snprintf(stem, sizeof stem, "%s/x.tmp-1", folder);
    for (int i = 0; i < 20; i++) {
        tm_error err = {0};
        int fd = tm_tmpfile_create(stem, names[i], sizeof names[i], &err);
        cr_assert_geq(fd, 0, "%s", err.msg);
        close(fd);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(names[i], names[j]);
    }
}

Test(tmpfile, file_is_new_empty_and_writable)
{
    char stem[128], name[160];
    snprintf(stem, sizeof stem, "%s/y.tmp-1", folder);
    tm_error err = {0};
    int fd = tm_tmpfile_create(stem, name, sizeof name, &err);
    cr_assert_geq(fd, 0, "%s", err.msg);
    cr_assert_eq(write(fd, "abc", 3), 3);
    close(fd);
    struct stat st;
    cr_assert_eq(lstat(name, &st), 0);
    cr_assert(S_ISREG(st.st_mode));
    cr_assert_eq(st.st_size, 3);
}

Test(tmpfile, missing_folder_is_an_error_naming_the_path)
{
    char stem[128], name[160];
    snprintf(stem, sizeof stem, "%s/absent/z.tmp-1", folder);
    tm_error err = {0};
    cr_assert_eq(tm_tmpfile_create(stem, name, sizeof name, &err), -1);
    cr_assert_eq(err.status, TM_ERR_RUNTIME);
    cr_assert_not_null(strstr(err.msg, "absent/z.tmp-1-"), "%s", err.msg);
}

Test(tmpfile, too_long_a_path_is_refused)
{
    char name[16];
    tm_error err = {0};
    cr_assert_eq(tm_tmpfile_create("/tmp/a-rather-long-stem", name, sizeof name, &err), -1);
    cr_assert_eq(err.status, TM_ERR_INPUT);
}

Test(tmpfile, drawing_a_name_alone_creates_nothing)
{
    char stem[128], name[160];
    snprintf(stem, sizeof stem, "%s/w.tmp-1", folder);
    tm_error err = {0};
    cr_assert_eq(tm_tmpfile_name(stem, name, sizeof name, &err), 0, "%s", err.msg);
    size_t n = strlen(stem);
    cr_assert_eq(strncmp(name, stem, n), 0);
    cr_assert_eq(strspn(name + n + 1, "abcdefghijklmnopqrstuvwxyz0123456789"), 12u);
    struct stat st;
    cr_assert_neq(lstat(name, &st), 0);
}

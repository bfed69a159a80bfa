/* test_imgdl.c -- download_mapillary_imgs' pieces: safe folder names, JPEG checks, whole-or-nothing saves */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mly/imgdl.h"

static void test_safe_name_keeps_plain_ids_and_escapes_the_rest(void **state)
{
  char out[IMGDL_SEQ_MAX + 1];
  assert_true(imgdl_safe_name("jap6qypmhfcdz9u29u3a44", 22, out, sizeof(out)));
  assert_string_equal(out, "jap6qypmhfcdz9u29u3a44");
  assert_true(imgdl_safe_name("a.b-c_D", 7, out, sizeof(out)));
  assert_string_equal(out, "a.b-c_D");
  /* what could leave the folder or hide a file */
  assert_true(imgdl_safe_name("../x", 4, out, sizeof(out)));
  assert_string_equal(out, "_._x");
  assert_true(imgdl_safe_name("..", 2, out, sizeof(out)));
  assert_string_equal(out, "_.");
  assert_true(imgdl_safe_name("/etc", 4, out, sizeof(out)));
  assert_string_equal(out, "_etc");
  assert_true(imgdl_safe_name("a\nb\0c\x7f\xc3\xa9", 8, out, sizeof(out)));
  assert_string_equal(out, "a_b_c___");
  assert_false(imgdl_safe_name("", 0, out, sizeof(out)));
  char big[IMGDL_SEQ_MAX + 2];
  memset(big, 'a', sizeof(big));
  assert_true(imgdl_safe_name(big, IMGDL_SEQ_MAX, out, sizeof(out)));
  assert_false(imgdl_safe_name(big, IMGDL_SEQ_MAX + 1, out, sizeof(out)));
  assert_false(imgdl_safe_name("abc", 3, out, 3)); /* no room for the NUL */
}

static void test_is_jpeg_by_markers(void **state)
{
  const uint8_t ok[] = {0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 0xFF, 0xD9};
  assert_true(imgdl_is_jpeg(ok, sizeof(ok)));
  assert_false(imgdl_is_jpeg(ok, sizeof(ok) - 1)); /* cut: no EOI at the end */
  assert_false(imgdl_is_jpeg(ok + 1, sizeof(ok) - 1));
  const uint8_t html[] = "<html>403</html>";
  assert_false(imgdl_is_jpeg(html, sizeof(html) - 1));
  const uint8_t tiny[] = {0xFF, 0xD9};
  assert_false(imgdl_is_jpeg(tiny, 2));
  assert_false(imgdl_is_jpeg(ok, 0));
}

static char *tmpdir(void)
{
  char *d = strdup("/tmp/mly-imgdl-XXXXXX");
  assert_non_null(d);
  assert_non_null(mkdtemp(d));
  return d;
}

static void put(const char *path, const void *p, size_t n)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static int entries(const char *dir)
{
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while((e = readdir(d)))
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

static void test_save_is_whole_or_nothing_and_never_replaces_an_image(void **state)
{
  char *top = tmpdir();
  int dfd = open(top, O_RDONLY | O_DIRECTORY);
  assert_true(dfd >= 0);
  const uint8_t img[] = {0xFF, 0xD8, 0xFF, 0xE0, 'a', 'b', 0xFF, 0xD9};
  const uint8_t other[] = {0xFF, 0xD8, 'z', 'z', 'z', 0xFF, 0xD9};
  char d[64], path[128];
  snprintf(d, sizeof(d), "%s/s", top);
  snprintf(path, sizeof(path), "%s/1.jpg", d);
  struct mly_err err = {0};
  bool existed = true;
  assert_false(imgdl_on_disk(dfd, "s", "1.jpg"));
  /* the sequence folder is made */
  assert_int_equal(imgdl_save(dfd, top, "s", "1.jpg", img, sizeof(img), &existed, &err), MLY_OK);
  assert_false(existed);
  assert_true(imgdl_on_disk(dfd, "s", "1.jpg"));
  assert_int_equal(entries(d), 1); /* no temporary file left */
  /* the same name again: the whole image there stays */
  assert_int_equal(imgdl_save(dfd, top, "s", "1.jpg", other, sizeof(other), &existed, &err),
                   MLY_OK);
  assert_true(existed);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_size, sizeof(img));
  /* a file cut short (a crash before the disk had it) is replaced */
  put(path, img, 5);
  assert_false(imgdl_on_disk(dfd, "s", "1.jpg"));
  assert_int_equal(imgdl_save(dfd, top, "s", "1.jpg", img, sizeof(img), &existed, &err), MLY_OK);
  assert_false(existed);
  assert_true(imgdl_on_disk(dfd, "s", "1.jpg"));
  assert_int_equal(entries(d), 1);
  /* a symlink under the name is neither followed nor replaced */
  char link_path[128], target[128];
  snprintf(target, sizeof(target), "%s/target.jpg", top);
  put(target, img, sizeof(img));
  snprintf(link_path, sizeof(link_path), "%s/2.jpg", d);
  assert_int_equal(symlink(target, link_path), 0);
  assert_false(imgdl_on_disk(dfd, "s", "2.jpg"));
  assert_int_equal(imgdl_save(dfd, top, "s", "2.jpg", other, sizeof(other), &existed, &err),
                   MLY_EIO);
  assert_non_null(strstr(err.msg, "not a regular file"));
  struct stat lb;
  assert_int_equal(lstat(link_path, &lb), 0);
  assert_true(S_ISLNK(lb.st_mode));
  assert_int_equal(stat(target, &sb), 0);
  assert_int_equal(sb.st_size, sizeof(img));
  /* a symlink as the sequence folder: not looked into, not written through,
   * even to replace a file cut short there */
  char elsewhere[64], victim[128], seq_link[128];
  snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", top);
  assert_int_equal(mkdir(elsewhere, 0777), 0);
  snprintf(victim, sizeof(victim), "%s/3.jpg", elsewhere);
  put(victim, "victim", 6);
  char whole[128];
  snprintf(whole, sizeof(whole), "%s/4.jpg", elsewhere);
  put(whole, img, sizeof(img));
  snprintf(seq_link, sizeof(seq_link), "%s/t", top);
  assert_int_equal(symlink(elsewhere, seq_link), 0);
  assert_false(imgdl_on_disk(dfd, "t", "4.jpg"));
  assert_int_equal(imgdl_save(dfd, top, "t", "3.jpg", img, sizeof(img), &existed, &err), MLY_EIO);
  assert_non_null(strstr(err.msg, "in the way"));
  assert_int_equal(imgdl_save(dfd, top, "t", "5.jpg", img, sizeof(img), &existed, &err), MLY_EIO);
  assert_int_equal(stat(victim, &sb), 0);
  assert_int_equal(sb.st_size, 6);
  assert_int_equal(entries(elsewhere), 2);
  /* a file where the sequence folder should be */
  char plain[128];
  snprintf(plain, sizeof(plain), "%s/u", top);
  put(plain, "x", 1);
  assert_int_equal(imgdl_save(dfd, top, "u", "6.jpg", img, sizeof(img), &existed, &err), MLY_EIO);
  assert_non_null(strstr(err.msg, "in the way"));
  /* a folder that cannot be made */
  assert_int_equal(imgdl_save(dfd, top, "nope/deeper", "3.jpg", img, sizeof(img), &existed, &err),
                   MLY_EIO);
  unlink(plain);
  unlink(seq_link);
  unlink(victim);
  unlink(whole);
  rmdir(elsewhere);
  unlink(link_path);
  unlink(target);
  unlink(path);
  assert_int_equal(rmdir(d), 0);
  close(dfd);
  assert_int_equal(rmdir(top), 0);
  free(top);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_safe_name_keeps_plain_ids_and_escapes_the_rest),
    cmocka_unit_test(test_is_jpeg_by_markers),
    cmocka_unit_test(test_save_is_whole_or_nothing_and_never_replaces_an_image),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

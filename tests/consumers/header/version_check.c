/* Compiled twice by tests/consumers/run.sh, as C99 and as C++11, both with
 * -Wall -Wextra -pedantic -Werror: the installed wlra.h must be clean in both
 * languages (its extern "C" guards make the C++ build link), and its
 * WLRA_VERSION_* macros must spell the library's own wlra_version(). */
#include <wlra.h>

#include <stdio.h>
#include <string.h>

#define WLRA_STR_(x) #x
#define WLRA_STR(x) WLRA_STR_(x)

int main(void) {
    const char *header = WLRA_STR(WLRA_VERSION_MAJOR) "." WLRA_STR(WLRA_VERSION_MINOR) "."
        WLRA_STR(WLRA_VERSION_PATCH);
    const char *library = wlra_version();
    printf("header %s, library %s\n", header, library);
    return strcmp(header, library) == 0 ? 0 : 1;
}

/* version.h - the one place the release number lives. */
#ifndef AWS_VERSION_H
#define AWS_VERSION_H
#define AWS_VERSION "0.1.0"
#endif

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ldapbridge/ldapbridge/accounts"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
)

// The argon2id parameters of new hashes: OWASP's 19 MiB, 2 passes, 1 lane
// with one more pass (about 50-60 ms on one core of a 2020s server). The
// memory is spent on every bind of the account, hence 19 MiB and not
// 64 MiB: a few concurrent service-account binds must fit in the 128 MiB a
// sidecar gets.
const (
	hashArgonMemoryKiB = 19 * 1024
	hashArgonTime      = 3
	hashArgonThreads   = 1
	hashArgonSaltBytes = 16
	hashArgonKeyBytes  = 32
	hashBcryptCost     = 12
	// hashMaxPassword bounds what is read: far above any real password,
	// far below anything that costs memory.
	hashMaxPassword = 1024
)

var hashPasswordHelp = cmdHelp{
	usage: "ldapbridge hash-password [--bcrypt] [--stdin]",
	text: fmt.Sprintf(`Prints a password hash for an entry of the configuration's accounts section
(the bridge's own service accounts), so that no other tool is needed:

  accounts:
    - dn: "cn=app,ou=services,dc=example,dc=com"
      password_hash: '<the printed hash>'

On a terminal the password is asked for twice, without echo. Otherwise (or
with --stdin) one line is read from standard input and its line ending
removed: printf '%%s\n' "$PW" | ldapbridge hash-password. The password never
appears in what is printed.

The default is argon2id, m=%d KiB (19 MiB), t=%d, p=%d, a %d-byte salt and a
%d-byte hash: about 50-100 ms and 19 MiB for each bind of the account.
--bcrypt writes a bcrypt hash of cost %d instead (passwords up to 72 bytes).
Before printing, the hash is checked with the code the bridge uses to verify
accounts.
`, hashArgonMemoryKiB, hashArgonTime, hashArgonThreads, hashArgonSaltBytes, hashArgonKeyBytes, hashBcryptCost),
}

func cmdHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("hash-password", stderr)
	useBcrypt := fs.Bool("bcrypt", false, fmt.Sprintf("write a bcrypt hash (cost %d) instead of argon2id", hashBcryptCost))
	fromStdin := fs.Bool("stdin", false, "read one line from standard input even when it is a terminal (no prompt, no confirmation)")
	pos, code, ok := parseFlags(fs, hashPasswordHelp, args, stdout)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		// A password on the command line would be in the shell history
		// and in ps: refuse it without echoing it.
		return usageError(stderr, "hash-password", "takes no arguments; the password is read from the terminal or standard input")
	}
	pw, err := readPassword(stdin, stderr, *fromStdin)
	defer clear(pw)
	if err == nil {
		var hash string
		if hash, err = hashPassword(pw, *useBcrypt); err == nil {
			fmt.Fprintln(stdout, hash)
			return 0
		}
	}
	fmt.Fprintf(stderr, "ldapbridge hash-password: %v\n", err)
	return 1
}

// readPassword reads the password: from a terminal without echo, asking
// twice, or one line from stdin.
func readPassword(stdin io.Reader, prompt io.Writer, noPrompt bool) ([]byte, error) {
	f, isFile := stdin.(*os.File)
	if isFile && term.IsTerminal(int(f.Fd())) {
		// Echo off needs the terminal's own ioctl, hence x/term.
		fd := int(f.Fd())
		if noPrompt {
			pw, err := term.ReadPassword(fd)
			if err != nil {
				return nil, fmt.Errorf("read password: %w", err)
			}
			return checkPassword(pw)
		}
		fmt.Fprint(prompt, "Password: ")
		pw, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		if pw, err = checkPassword(pw); err != nil {
			return nil, err
		}
		fmt.Fprint(prompt, "Again: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		defer clear(again)
		if err != nil {
			clear(pw)
			return nil, fmt.Errorf("read password: %w", err)
		}
		if !bytes.Equal(pw, again) {
			clear(pw)
			return nil, errors.New("the two passwords differ")
		}
		return pw, nil
	}
	if stdin == nil {
		return nil, errors.New("no standard input")
	}
	// One byte at a time: nothing past the line is consumed, and no
	// buffer holds a copy of the password.
	pw := make([]byte, 0, hashMaxPassword+1) // never reallocated: no stray copy
	var b [1]byte
	for {
		n, err := stdin.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			if len(pw) == hashMaxPassword+1 {
				clear(pw)
				return nil, fmt.Errorf("the password is longer than %d bytes", hashMaxPassword)
			}
			pw = append(pw, b[0])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			clear(pw)
			return nil, fmt.Errorf("read password from standard input: %w", err)
		}
	}
	if len(pw) > 0 && pw[len(pw)-1] == '\r' {
		pw[len(pw)-1] = 0
		pw = pw[:len(pw)-1]
	}
	return checkPassword(pw)
}

func checkPassword(pw []byte) ([]byte, error) {
	switch {
	case len(pw) == 0:
		return nil, errors.New("empty password")
	case len(pw) > hashMaxPassword:
		clear(pw)
		return nil, fmt.Errorf("the password is longer than %d bytes", hashMaxPassword)
	}
	return pw, nil
}

// hashPassword hashes pw and checks the hash with the verification the
// bridge runs for accounts, so that what is printed is known to work.
func hashPassword(pw []byte, useBcrypt bool) (string, error) {
	var hash string
	if useBcrypt {
		if len(pw) > 72 {
			return "", errors.New("bcrypt uses only the first 72 bytes of a password and this one is longer: use argon2id (the default)")
		}
		h, err := bcrypt.GenerateFromPassword(pw, hashBcryptCost)
		if err != nil {
			return "", fmt.Errorf("bcrypt: %w", err)
		}
		hash = string(h)
	} else {
		salt := make([]byte, hashArgonSaltBytes)
		if _, err := rand.Read(salt); err != nil {
			return "", fmt.Errorf("salt: %w", err)
		}
		key := argon2.IDKey(pw, salt, hashArgonTime, hashArgonMemoryKiB, hashArgonThreads, hashArgonKeyBytes)
		hash = fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
			hashArgonMemoryKiB, hashArgonTime, hashArgonThreads,
			base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	}
	if err := accounts.CheckHash(hash); err != nil {
		return "", fmt.Errorf("the new hash is not accepted by the configuration: %w", err)
	}
	ok, err := accounts.VerifyHash(hash, pw)
	if err != nil || !ok {
		return "", fmt.Errorf("the new hash does not verify the password (%v)", err)
	}
	return hash, nil
}

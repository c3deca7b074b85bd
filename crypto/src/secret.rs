//! Secret key types (PROTOCOL.md §1.3, hygiene).
//!
//! Every secret is its own type around a boxed array (so moves do not leave
//! copies on the stack), zeroized on drop, printed as `[redacted]`, compared
//! in constant time, and not `Clone` unless the protocol needs a copy. The
//! only way to the bytes is `expose_secret`, so `grep expose_secret` lists
//! every place a secret leaves its type.

macro_rules! secret_bytes {
    ($(#[$doc:meta])* $vis:vis struct $name:ident([u8; $len:expr]);) => {
        $(#[$doc])*
        #[derive(zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
        $vis struct $name(Box<[u8; $len]>);

        impl $name {
            /// Wraps secret bytes (from a vector file or an unwrapped key).
            #[allow(dead_code)]
            $vis fn from_secret_bytes(bytes: [u8; $len]) -> Self {
                Self(Box::new(bytes))
            }

            /// Takes ownership of a boxed secret without copying it.
            #[allow(dead_code)]
            pub(crate) fn from_boxed(bytes: Box<[u8; $len]>) -> Self {
                Self(bytes)
            }

            /// Fresh random bytes.
            #[allow(dead_code)]
            $vis fn generate<R: rand_core::RngCore + rand_core::CryptoRng>(rng: &mut R) -> Self {
                let mut key = Box::new([0u8; $len]);
                rng.fill_bytes(&mut key[..]);
                Self(key)
            }

            /// The raw secret. Every call site is a place a reviewer checks.
            #[allow(dead_code)]
            $vis fn expose_secret(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl subtle::ConstantTimeEq for $name {
            fn ct_eq(&self, other: &Self) -> subtle::Choice {
                self.0[..].ct_eq(&other.0[..])
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                subtle::ConstantTimeEq::ct_eq(self, other).into()
            }
        }

        impl Eq for $name {}
    };
}

pub(crate) use secret_bytes;

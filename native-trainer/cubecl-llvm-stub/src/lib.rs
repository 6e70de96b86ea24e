//! Mapseg's stand-in for the `cubecl-llvm` crate.
//!
//! Why it exists: `cubecl-cuda` 0.11 (the CUDA runtime under burn's `cuda` feature) always
//! depends on `cubecl-llvm`, whose build script downloads a prebuilt LLVM from GitHub while
//! compiling. That download cannot happen where only package registries are reachable, nor on
//! GPU machines without internet access. Mapseg compiles CUDA kernels through `cubecl-cuda`'s
//! CUDA C++ path instead (its `cpp` feature): the kernels are handed to NVRTC at run time, so
//! **NVRTC (`libnvrtc.so.13`) must exist on the GPU machine**.
//!
//! With `cpp` on, `cubecl-cuda` never selects its LLVM back end, but it still names the
//! LLVM back end's types. This crate provides exactly those items and nothing else: the
//! compiler refuses every kernel with an error, and no PTX is ever produced here.
//!
//! Keep the version equal to the pinned `cubecl-cuda` (see Cargo.toml).

use cubecl_core::CompilationError;
use cubecl_core::environment::backtrace::BackTrace;
use cubecl_core::ir::attributes::BufferIOAttr;
use cubecl_core::ir::nvidia::SmArch;
use cubecl_core::prelude::KernelDefinition;

/// What `cubecl-cuda` uses for the NVIDIA PTX target.
pub mod nvptx {
    /// The PTX ISA version an LLVM-built kernel would be emitted for.
    pub mod ptx_version {
        use core::fmt;

        /// A PTX ISA version, `major.minor`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct PtxVersion {
            pub major: u32,
            pub minor: u32,
        }

        impl PtxVersion {
            /// The PTX version to emit for a CUDA driver version (as `cuDriverGetVersion`
            /// reports it, e.g. `13000`). Always `None`: this crate emits no PTX, and the
            /// CUDA C++ path that Mapseg uses does not read it.
            pub fn for_driver(_driver_version: i32) -> Option<Self> {
                None
            }
        }

        impl fmt::Display for PtxVersion {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}.{}", self.major, self.minor)
            }
        }
    }
}

/// What `cubecl-cuda` uses to adjust the advertised device features to the LLVM back end.
pub mod shared {
    /// Device features per LLVM GPU target.
    pub mod lowered_features {
        use cubecl_core::ir::DeviceProperties;

        /// A GPU target of the LLVM back end.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum GpuTarget {
            Nvptx,
        }

        /// Leaves the properties as they are. `cubecl-cuda` calls this only when its LLVM
        /// back end compiles, which never happens with its `cpp` feature on; and with this
        /// crate that back end refuses every kernel anyway.
        pub fn restrict_features(_properties: &mut DeviceProperties, _target: GpuTarget) {}
    }
}

/// The target an LLVM compilation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LlvmTarget {
    Nvptx,
}

/// Options of one compilation.
#[derive(Clone, Debug, Default)]
pub struct PlironOptions {
    /// An explicit LLVM target CPU, overriding the one derived from `sm_arch`.
    pub arch: Option<String>,
    /// The device's compute capability.
    pub sm_arch: Option<SmArch>,
    /// The PTX version to emit.
    pub ptx_version: Option<nvptx::ptx_version::PtxVersion>,
    /// Whether kernel parameters are passed as grid constants.
    pub grid_constants: bool,
}

/// A kernel compiled to PTX. Never produced by this crate.
#[derive(Clone, Debug)]
pub struct NvptxModule {
    /// The PTX text, as the CUDA driver loads it.
    pub ptx: Vec<core::ffi::c_char>,
    /// The LLVM IR the PTX came from (shown in compilation logs).
    pub ir: String,
    /// Bytes of dynamic shared memory the launch must reserve.
    pub shared_memory_size: usize,
    /// How the kernel uses each buffer.
    pub io: Vec<BufferIOAttr>,
}

/// What a compilation produces.
#[derive(Clone, Debug)]
pub enum PlironArtifact {
    NvptxCode(NvptxModule),
}

/// The LLVM back end's compiler. Refuses every kernel.
#[derive(Clone, Debug)]
pub struct PlironCompiler {
    pub target: LlvmTarget,
}

impl PlironCompiler {
    /// Always fails with [`CompilationError::Generic`]: this build has no LLVM.
    pub fn compile(
        &mut self,
        kernel: KernelDefinition,
        _options: &PlironOptions,
    ) -> Result<PlironArtifact, CompilationError> {
        Err(CompilationError::Generic {
            reason: format!(
                "kernel `{}`: this build has no LLVM back end (Mapseg compiles CUDA kernels \
                 through NVRTC; enable cubecl-cuda's `cpp` feature)",
                kernel.settings.kernel_name
            ),
            backtrace: BackTrace::capture(),
        })
    }

    /// The language tag of compiled kernels, as in compilation logs.
    pub fn lang_tag(&self) -> &'static str {
        "llvm"
    }
}

//! `pymethods_with_twins!`: a class's `#[pymethods]` block in which every I/O method is
//! written once and comes out twice, as the coroutine method `name` and its blocking twin
//! `name_blocking`, with the same arguments.

/// Writes `#[pymethods] impl Class { ... }`: the methods of `impl Class { ... }` as given,
/// then each method of `io { ... }` twice. An I/O method is written
///
/// ```text
/// /// What it does.
/// #[pyo3(signature = (...))]            // optional
/// fn name / name_blocking(&self, args...) -> Output { body }
/// ```
///
/// where `body` checks the arguments (`?` raises) and evaluates to the future of a
/// `spektate::Result<Output>`. `name` returns it as an awaitable for asyncio
/// ([`crate::errors::awaitable`]); `name_blocking` runs it with the GIL released and
/// returns the `Output` ([`crate::errors::blocking`]), documented as the blocking twin.
/// Argument types may borrow for `'py`.
macro_rules! pymethods_with_twins {
    (
        impl $class:ident { $($plain:tt)* }
        io {
            $(
                $(#[doc = $doc:literal])*
                $(#[pyo3 $options:tt])?
                fn $name:ident / $blocking:ident
                    (&$this:ident $(, $($params:tt)+)?) -> $output:ty $body:block
            )*
        }
    ) => {
        #[::pyo3::pymethods]
        impl $class {
            $($plain)*
            $(
                $(#[doc = $doc])*
                $(#[pyo3 $options])?
                #[allow(clippy::too_many_arguments)]
                fn $name<'py>(
                    &$this,
                    py: ::pyo3::Python<'py>
                    $(, $($params)+)?
                ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                    let fut = $body;
                    $crate::errors::awaitable(py, fut)
                }

                #[doc = concat!("Blocking twin of `", stringify!($name), "`.")]
                $(#[pyo3 $options])?
                #[allow(clippy::too_many_arguments)]
                fn $blocking<'py>(
                    &$this,
                    py: ::pyo3::Python<'py>
                    $(, $($params)+)?
                ) -> ::pyo3::PyResult<$output> {
                    let fut = $body;
                    $crate::errors::blocking(py, fut)
                }
            )*
        }
    };
}

pub(crate) use pymethods_with_twins;

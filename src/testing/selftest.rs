//! The harness's own tests: one passes, one fails, one panics, one never ends. They run only
//! when named (`test=selftest::`), and the host checks that each is reported as it should be:
//! a harness that cannot report a failure would make every other test meaningless.

use crate::{check_eq, kernel_test};

kernel_test!(fn expected_pass(_context) {
    Ok(())
});

kernel_test!(fn expected_fail(_context) {
    check_eq!(1 + 1, 3);
    Ok(())
});

kernel_test!(fn expected_panic(_context) {
    panic!("deliberate panic from a kernel test");
});

kernel_test!(fn expected_timeout(_context) {
    loop {
        core::hint::spin_loop();
    }
});

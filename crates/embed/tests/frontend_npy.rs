//! `.npy` round trip: whatever shape and values go in come back out, bit for bit, and NumPy's layout rules hold.

use avx_embed::npy::{read_npy_f32, write_npy_f32};
use proptest::prelude::*;

proptest! {
    #[test]
    fn npy_round_trip(shape in prop::collection::vec(0usize..6, 0..4), seed in any::<u32>()) {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|i| f32::from_bits(seed.wrapping_mul(2_654_435_761).wrapping_add(i as u32 * 97))).collect();
        let mut buf = Vec::new();
        write_npy_f32(&mut buf, &shape, &data).unwrap();
        prop_assert_eq!((buf.len() - 4 * n) % 64, 0);
        let (s, d) = read_npy_f32(&buf[..]).unwrap();
        prop_assert_eq!(s, shape);
        prop_assert_eq!(d.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), data.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    }

    #[test]
    fn truncated_npy_is_an_error(cut in 0usize..200) {
        let mut buf = Vec::new();
        write_npy_f32(&mut buf, &[3, 5], &[1.5; 15]).unwrap();
        let cut = cut.min(buf.len() - 1);
        prop_assert!(read_npy_f32(&buf[..cut]).is_err());
    }
}

//! Thresholds against scikit-image, region growing against SimpleITK, and the CT, brain and
//! atlas methods against the phantoms' labels.

use hounsfield_core::{Geometry, LabelVolume, Volume};
use hounsfield_metrics::segmentation::{evaluate_masks, SegmentationOptions};
use hounsfield_phantom::{Contrast, HeadOptions, Modality, Phantom, RenderOptions, TorsoOptions};
use hounsfield_segment::atlas::{atlas_segment, Atlas, AtlasOptions, Voting};
use hounsfield_segment::brain::{brain_tissue, BrainOptions, CSF, GREY_MATTER, WHITE_MATTER};
use hounsfield_segment::ct::{body_and_lungs, CtOptions};
use hounsfield_segment::region::{confidence_connected, ConfidenceOptions};
use hounsfield_segment::threshold::{multi_otsu, otsu};
use hounsfield_segment::watershed::watershed;

use crate::common::{py_json, write_f32};

fn head(seed: u64, size: usize, modality: Modality) -> (Volume<f32>, LabelVolume) {
    let p = Phantom::head(seed, &HeadOptions::default()).unwrap();
    let grid = p.grid(size).unwrap();
    let r =
        p.render(&grid, &Contrast::for_modality(modality), &RenderOptions::supersampled(2), seed).unwrap();
    (r.image, r.labels)
}

fn mask_of(labels: &LabelVolume, set: &[u16]) -> Volume<u8> {
    labels.map(|l| u8::from(set.contains(l)))
}

fn dice(a: &Volume<u8>, b: &Volume<u8>) -> f64 {
    evaluate_masks(a, b, &SegmentationOptions::default()).unwrap().dice
}

#[test]
fn otsu_and_multi_otsu_equal_skimage() {
    let (img, _) = head(3, 48, Modality::T1);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.raw");
    write_f32(&p, img.data());
    // float64 in Python: numpy's histogram edges are then f64, as ours are.
    let j = py_json(
        r#"
import sys, json, numpy as np
from skimage.filters import threshold_otsu, threshold_multiotsu
a = np.fromfile(sys.argv[1], dtype='<f4').astype(np.float64)
print(json.dumps({"otsu": float(threshold_otsu(a, nbins=256)),
                  "multi3": [float(t) for t in threshold_multiotsu(a, classes=3, nbins=256)],
                  "multi4": [float(t) for t in threshold_multiotsu(a, classes=4, nbins=128)]}))
"#,
        &[p.to_str().unwrap()],
    );
    // 1e-9: the same bin centre is chosen, so the values are the same f64 up to rounding of
    // the edge arithmetic.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    let t = otsu(&img, 256, None).unwrap();
    assert!(close(t, j["otsu"].as_f64().unwrap()), "otsu {t} vs {}", j["otsu"]);
    for (classes, bins, key) in [(3, 256, "multi3"), (4, 128, "multi4")] {
        let ours = multi_otsu(&img, classes, bins, None).unwrap();
        let theirs: Vec<f64> = j[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(ours.len(), theirs.len());
        for (a, b) in ours.iter().zip(&theirs) {
            assert!(close(*a, *b), "{key}: ours {ours:?} vs skimage {theirs:?}");
        }
    }
}

#[test]
fn confidence_connected_equals_simpleitk() {
    let (img, _) = head(3, 40, Modality::T1);
    let dims = img.dims();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.raw");
    write_f32(&p, img.data());
    // Seeds in white matter near the centre and one on the image border (clamped box).
    let seeds = [[20usize, 20, 22], [22, 18, 20], [0, 0, 0]];
    for (multiplier, iterations, radius, seeds) in
        [(2.5, 4, 1, &seeds[..2]), (1.5, 2, 2, &seeds[..1]), (3.0, 1, 1, &seeds[..])]
    {
        let opts = ConfidenceOptions { multiplier, iterations, initial_radius: radius };
        let ours = confidence_connected(&img, seeds, &opts).unwrap();
        let seed_arg: Vec<String> = seeds.iter().map(|s| format!("{},{},{}", s[0], s[1], s[2])).collect();
        let j = py_json(
            r#"
import sys, json, numpy as np, SimpleITK as sitk
nx, ny, nz = (int(v) for v in sys.argv[2].split(','))
a = np.fromfile(sys.argv[1], dtype='<f4').reshape(nz, ny, nx)
img = sitk.GetImageFromArray(a)
seeds = [tuple(int(v) for v in s.split(',')) for s in sys.argv[6].split(';')]
out = sitk.ConfidenceConnected(img, seedList=seeds, numberOfIterations=int(sys.argv[4]),
                               multiplier=float(sys.argv[3]), initialNeighborhoodRadius=int(sys.argv[5]),
                               replaceValue=1)
m = sitk.GetArrayFromImage(out).astype(np.uint8).ravel()
print(json.dumps({"count": int(m.sum()), "mask": m.tolist()}))
"#,
            &[
                p.to_str().unwrap(),
                &format!("{},{},{}", dims[0], dims[1], dims[2]),
                &multiplier.to_string(),
                &iterations.to_string(),
                &radius.to_string(),
                &seed_arg.join(";"),
            ],
        );
        let theirs: Vec<u8> =
            j["mask"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
        let count = ours.data().iter().filter(|&&v| v != 0).count();
        assert!(count > 50, "the region grew ({count} voxels)");
        let differ = ours.data().iter().zip(&theirs).filter(|(a, b)| a != b).count();
        // Identical masks: both compute the statistics in f64 from the same f32 voxels.
        assert_eq!(
            differ, 0,
            "k={multiplier} it={iterations} r={radius}: {count} vs {} voxels, {differ} differ",
            j["count"]
        );
    }
}

#[test]
fn ct_body_and_lungs_match_the_torso_phantom() {
    let p = Phantom::torso(7, &TorsoOptions::default()).unwrap();
    let grid = p.grid(96).unwrap();
    let r =
        p.render(&grid, &Contrast::for_modality(Modality::Ct), &RenderOptions::supersampled(2), 7).unwrap();
    let seg = body_and_lungs(&r.image, &CtOptions::default()).unwrap();
    let body_truth = r.labels.map(|&l| u8::from(l != 0));
    // Lungs with their vessels and the airways inside them (labels 4, 5, 6).
    let lung_truth = mask_of(&r.labels, &[4, 5, 6]);
    let (db, dl) = (dice(&seg.body, &body_truth), dice(&seg.lungs, &lung_truth));
    // 0.98 / 0.93: partial-volume voxels at the skin and lung borders (4 mm voxels) are the
    // disagreement; a wrong component or unfilled lungs would fall far below.
    assert!(db > 0.98, "body Dice {db}");
    assert!(dl > 0.93, "lung Dice {dl}");
}

#[test]
fn brain_tissue_matches_the_head_phantom() {
    let (img, labels) = head(3, 64, Modality::T1);
    let brain = mask_of(&labels, &[22, 23, 24, 25]);
    let seg = brain_tissue(&img, &brain, &BrainOptions::default()).unwrap();
    let d =
        |ours: u16, truth: &[u16]| dice(&seg.labels.map(|&l| u8::from(l == ours)), &mask_of(&labels, truth));
    let (csf, gm, wm) = (d(CSF, &[22, 25]), d(GREY_MATTER, &[23]), d(WHITE_MATTER, &[24]));
    eprintln!("T1 Dice CSF {csf:.3} GM {gm:.3} WM {wm:.3}, means {:?}", seg.means);
    // Measured 0.93 / 0.74 / 0.94 at 3.4 mm voxels (noise-free): the thin cortex is mostly
    // partial-volume voxels (at 96³, 2.3 mm, GM reaches 0.84). A swapped or collapsed class
    // would fall far below these bounds.
    assert!(csf > 0.9 && gm > 0.7 && wm > 0.9, "CSF {csf} GM {gm} WM {wm}");
    assert!(seg.means[0] < seg.means[1] && seg.means[1] < seg.means[2]);
}

#[test]
fn atlas_labels_carry_to_another_head() {
    let (subject, truth) = head(5, 48, Modality::T1);
    let atlases: Vec<Atlas> = [3u64, 4]
        .iter()
        .map(|&s| {
            let (image, labels) = head(s, 48, Modality::T1);
            Atlas { image, labels }
        })
        .collect();
    let mut opts = AtlasOptions::default();
    opts.registration.transform = hounsfield_register::TransformType::Affine;
    let brain = [22u16, 23, 24, 25];
    let truth_brain = mask_of(&truth, &brain);
    let mut single = 0.0;
    for (k, voting) in
        [Voting::Majority, Voting::LocallyWeighted { sigma_mm: 3.0, power: 1.0 }].into_iter().enumerate()
    {
        opts.voting = voting;
        let n = if k == 0 { 1 } else { 2 };
        let r = atlas_segment(&subject, &atlases[..n], &opts, &mut |_, _| {}).unwrap();
        let d = dice(&mask_of(&r.labels, &brain), &truth_brain);
        eprintln!("{voting:?} with {n} atlas(es): brain Dice {d:.3}");
        if k == 0 {
            single = d;
        }
        // 0.9: different heads (anatomical variation) aligned by an affine map.
        assert!(d > 0.9, "{voting:?}: brain Dice {d}");
    }
    assert!(single > 0.0);
}

#[test]
fn watershed_equals_skimage() {
    use hounsfield_imgproc::filter::{gradient_magnitude, Smoothing};
    let (img, _) = head(3, 40, Modality::T1);
    // A gradient image with distinct values (noise-free phantoms have plateaus of equal
    // values, where the flooding order is still defined but the markers' order is not).
    let grad = gradient_magnitude(&img, Smoothing::Gaussian { sigma_mm: [3.0; 3] }).unwrap();
    let dims = img.dims();
    let mut m = vec![0u16; img.len()];
    for (l, (i, j, k)) in
        [(1u16, (20usize, 20usize, 20usize)), (2, (2, 2, 2)), (3, (20, 12, 28)), (4, (30, 25, 15))]
    {
        m[img.offset(i, j, k)] = l;
    }
    let markers = LabelVolume::new(img.with_data(m.clone()).unwrap());
    let ours = watershed(&grad, &markers, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (pg, pm) = (dir.path().join("g.raw"), dir.path().join("m.raw"));
    write_f32(&pg, grad.data());
    std::fs::write(&pm, m.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let j = py_json(
        r#"
import sys, json, numpy as np
from skimage.segmentation import watershed
nx, ny, nz = (int(v) for v in sys.argv[3].split(','))
g = np.fromfile(sys.argv[1], dtype='<f4').reshape(nz, ny, nx).astype(np.float64)
m = np.fromfile(sys.argv[2], dtype='<u2').reshape(nz, ny, nx).astype(np.int32)
w = watershed(g, m)
print(json.dumps({"labels": w.ravel().tolist()}))
"#,
        &[pg.to_str().unwrap(), pm.to_str().unwrap(), &format!("{},{},{}", dims[0], dims[1], dims[2])],
    );
    let theirs: Vec<u16> =
        j["labels"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u16).collect();
    let differ = ours.data().iter().zip(&theirs).filter(|(a, b)| a != b).count();
    assert_eq!(ours.labels(), vec![1, 2, 3, 4]);
    // Identical: the same flooding order on the same f64 values.
    assert_eq!(differ, 0, "{differ} of {} voxels differ from scikit-image", theirs.len());
}

#[test]
fn bad_input_is_refused() {
    let img = Volume::from_vec([4, 4, 1], Geometry::default(), vec![1.0f32; 16]).unwrap();
    assert!(confidence_connected(&img, &[[9, 0, 0]], &ConfidenceOptions::default()).is_err());
    assert!(confidence_connected(&img, &[], &ConfidenceOptions::default()).is_err());
    assert!(multi_otsu(&img, 3, 256, None).is_err(), "a constant image has no 3 classes");
    assert!(body_and_lungs(&img.map(|_| -1000.0f32), &CtOptions::default()).is_err());
    let ok = img.map(|_| 1u8);
    let other = Volume::from_vec(
        [4, 4, 1],
        Geometry { spacing: [2.0, 1.0, 1.0], ..Default::default() },
        vec![1u8; 16],
    )
    .unwrap();
    assert!(brain_tissue(&img, &other, &BrainOptions::default()).is_err());
    assert!(brain_tissue(&img, &ok.map(|_| 0), &BrainOptions::default()).is_err());
}

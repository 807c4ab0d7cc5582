# Reference output of plm::pgmm on the Arellano-Bond (1991) EmplUK data.
# Run from this folder: Rscript generate.R   (writes emplUK.csv, output.txt, reference.json)
source("../plm_common/pgmm_reference.R")
pgmm_reference("n ~ lag(n, 1:2) + lag(w, 0:1) + k + lag(ys, 0:1) | lag(n, 2:99)",
               effect = "twoways", model = "twosteps", transformation = "d", collapse = FALSE)

# Reference output of plm::pgmm on the Arellano-Bond (1991) EmplUK data.
# System GMM with effect = "individual": plm has no constant in the level equations.
# Run from this folder: Rscript generate.R   (writes emplUK.csv, output.txt, reference.json)
source("../plm_common/pgmm_reference.R")
pgmm_reference("n ~ lag(n, 1) + lag(w, 0:1) + lag(k, 0:1) | lag(n, 2:99) + lag(w, 2:99) + lag(k, 2:99)",
               effect = "individual", model = "twosteps", transformation = "ld", collapse = TRUE)
